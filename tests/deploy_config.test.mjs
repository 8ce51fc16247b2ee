// Static checks of the deployment files: docker-compose.yml, .env.example,
// dashboards/ (Prometheus, Grafana provisioning and dashboard), helm/llm-proxy.
// No Docker engine and no helm binary are needed: YAML is parsed with the
// `yaml` package and Helm templates are checked structurally (balanced
// actions, every .Values path defined, every include defined, YAML shape once
// the actions are blanked out).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

// The metrics the dashboard may query (Prometheus names: histograms are used
// through _bucket/_sum/_count). OpenTelemetry GenAI names where one exists.
// Keep this list in step with what the binaries export (and with the N table
// of dashboards/grafana/generate-dashboard.mjs).
export const METRICS = [
  'gen_ai_client_token_usage', // histogram; labels model, provider, token_type=input|output
  'gen_ai_server_request_duration_seconds', // histogram
  'gen_ai_server_time_to_first_token_seconds', // histogram
  'llmproxy_requests_total', // counter; labels virtual_key, model, status
  'llmproxy_tokens_total', // counter; labels virtual_key, model, token_type
  'llmproxy_spend_usd_total', // counter, USD; labels virtual_key, model
  'llmproxy_limit_rejections_total', // counter; labels kind
  'llmproxy_upstream_errors_total', // counter; labels provider, reason
  'llmproxy_upstream_retries_total', // counter; labels provider
  'llmproxy_config_revision', // gauge (data plane: applied)
  'llmproxy_controlplane_config_revision', // gauge (control plane: newest)
  'llmproxy_usage_records_spooled_total', // counter
  'llmproxy_usage_records_replayed_total', // counter
];

const ROOT = process.env.LLMPROXY_SOURCE_DIR
  ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHART = path.join(ROOT, 'helm', 'llm-proxy');
const read = (rel) => readFileSync(path.join(ROOT, rel), 'utf8');


function parseYaml(text, where) {
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  for (const d of docs) {
    const problems = [...d.errors, ...d.warnings];
    assert.equal(problems.length, 0, `${where}: ${problems.map((e) => e.message).join('\n')}`);
  }
  return docs.map((d) => d.toJS());
}
const parseOne = (rel) => parseYaml(read(rel), rel)[0];

function walk(dir, filter, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === '.git' || name.startsWith('build')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, filter, out);
    else if (filter(p)) out.push(p);
  }
  return out;
}

// ---------------------------------------------------------------- plain YAML

test('every plain YAML file of the deployment parses', () => {
  const files = [
    path.join(ROOT, 'docker-compose.yml'),
    ...walk(path.join(ROOT, 'dashboards'), (p) => /\.ya?ml$/.test(p)),
    ...walk(CHART, (p) => /\.ya?ml$/.test(p) && !p.includes(`${path.sep}templates${path.sep}`)),
  ];
  assert.ok(files.length >= 8, `found only ${files.length} YAML files`);
  for (const f of files) parseYaml(readFileSync(f, 'utf8'), path.relative(ROOT, f));
});

// ------------------------------------------------------------ docker compose

test('compose: postgres, control plane, two data planes, prometheus, grafana, seed', () => {
  const compose = parseOne('docker-compose.yml');
  const s = compose.services;
  for (const name of ['postgres', 'controlplane', 'dataplane-1', 'dataplane-2', 'prometheus', 'grafana', 'seed']) {
    assert.ok(s[name], `service ${name} missing`);
  }
  assert.match(s.postgres.image, /^postgres:15/);
  assert.ok(s.postgres.healthcheck?.test, 'postgres has a healthcheck');
  assert.ok(s.postgres.volumes.some((v) => v.endsWith(':/var/lib/postgresql/data')), 'postgres keeps its data in a volume');
  assert.equal(s.controlplane.depends_on.postgres.condition, 'service_healthy');
  assert.match(s.controlplane.environment.LLMPROXY_DATABASE_URL, /^postgresql:\/\/.*@postgres:5432\//);
  assert.ok(s.controlplane.command.includes('--grpc-address=0.0.0.0:50051'));
  for (const secret of ['LLMPROXY_ADMIN_TOKEN', 'LLMPROXY_DATAPLANE_TOKEN', 'LLMPROXY_ENCRYPTION_KEY']) {
    assert.match(String(s.controlplane.environment[secret]), /^\$\{[A-Z_]+(:\?[^}]*)?\}$/, `${secret} comes from .env`);
  }
  // Two data planes: distinct node ids, host ports 8080 and 8081.
  const nodeIds = ['dataplane-1', 'dataplane-2'].map((n) =>
    s[n].command.find((a) => a.startsWith('--node-id=')));
  assert.ok(nodeIds[0] && nodeIds[1] && nodeIds[0] !== nodeIds[1], `node ids: ${nodeIds}`);
  assert.match(s['dataplane-1'].ports[0], /:8080:8080$/);
  assert.match(s['dataplane-2'].ports[0], /:8081:8080$/);
  for (const n of ['dataplane-1', 'dataplane-2']) {
    assert.ok(s[n].command.includes('--controlplane-address=controlplane:50051'));
    assert.equal(s[n].build.target, 'dataplane');
  }
  assert.equal(s.controlplane.build.target, 'controlplane');
  assert.equal(s.seed.build.target, 'cli');
  assert.equal(s.seed.restart, 'no');
  assert.equal(s.seed.depends_on.controlplane.condition, 'service_healthy');
  // Every build uses a stage the Dockerfile defines.
  const stages = [...read('docker/Dockerfile').matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);
  for (const [name, svc] of Object.entries(s)) {
    if (!svc.build) continue;
    assert.equal(svc.build.dockerfile, 'docker/Dockerfile', name);
    assert.ok(stages.includes(svc.build.target), `${name}: target ${svc.build.target} not in ${stages}`);
  }
  // Mounted files exist.
  for (const [name, svc] of Object.entries(s)) {
    for (const v of svc.volumes ?? []) {
      if (!v.startsWith('./')) continue;
      const src = v.split(':')[0];
      assert.ok(existsSync(path.join(ROOT, src)), `${name} mounts missing ${src}`);
    }
  }
});

test('compose: every ${VAR} it reads is documented in .env.example', () => {
  const compose = read('docker-compose.yml');
  const used = new Set([...compose.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
  const example = read('.env.example');
  const documented = new Set([...example.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
  for (const v of used) assert.ok(documented.has(v), `.env.example lacks ${v}`);
  // Required secrets are empty in the example: nobody runs with a published secret.
  for (const v of ['LLMPROXY_ADMIN_TOKEN', 'LLMPROXY_DATAPLANE_TOKEN', 'LLMPROXY_ENCRYPTION_KEY', 'POSTGRES_PASSWORD']) {
    assert.match(example, new RegExp(`^${v}=$`, 'm'), `${v} must be empty in .env.example`);
    assert.match(compose, new RegExp(`\\$\\{${v}:\\?`), `compose must refuse to start without ${v}`);
  }
  // Every variable in .env.example has a comment above it (in its block).
  const lines = example.split('\n');
  lines.forEach((line, i) => {
    if (!/^[A-Z0-9_]+=/.test(line)) return;
    let j = i - 1;
    while (j >= 0 && /^[A-Z0-9_]+=/.test(lines[j])) j--;
    assert.ok(j >= 0 && lines[j].startsWith('#'), `.env.example: ${line} has no comment`);
  });
});

test('prometheus scrapes the control plane and both data planes', () => {
  const prom = parseOne('dashboards/prometheus.yml');
  const compose = parseOne('docker-compose.yml');
  const targets = prom.scrape_configs.flatMap((c) => c.static_configs.flatMap((sc) => sc.targets));
  for (const t of ['controlplane:9091', 'dataplane-1:9090', 'dataplane-2:9090']) {
    assert.ok(targets.includes(t), `prometheus does not scrape ${t}`);
    assert.ok(compose.services[t.split(':')[0]], `${t} is no compose service`);
  }
  const mount = compose.services.prometheus.volumes.find((v) => v.includes('prometheus.yml'));
  assert.match(mount, /^\.\/dashboards\/prometheus\.yml:/);
});

test('grafana provisioning points at the datasource and dashboard folder compose mounts', () => {
  const compose = parseOne('docker-compose.yml');
  const vols = compose.services.grafana.volumes;
  const ds = parseOne('dashboards/grafana/provisioning/datasources/prometheus.yml');
  assert.equal(ds.apiVersion, 1);
  assert.equal(ds.datasources[0].type, 'prometheus');
  assert.equal(ds.datasources[0].url, 'http://prometheus:9090');
  const dp = parseOne('dashboards/grafana/provisioning/dashboards/llm-proxy.yml');
  const dashPath = dp.providers[0].options.path;
  assert.ok(vols.some((v) => v === `./dashboards/grafana/dashboards:${dashPath}:ro`), `no mount for ${dashPath}`);
  assert.ok(vols.some((v) => v.startsWith('./dashboards/grafana/provisioning:/etc/grafana/provisioning')));
});

// ---------------------------------------------------------------- dashboard

const DASHBOARD = 'dashboards/grafana/dashboards/llm-proxy.json';

test('the dashboard JSON is valid and is what its generator prints', async () => {
  const text = read(DASHBOARD);
  const dash = JSON.parse(text);
  assert.equal(dash.title, 'llm-proxy');
  assert.ok(dash.uid);
  const gen = await import(path.join(ROOT, 'dashboards/grafana/generate-dashboard.mjs'));
  assert.equal(text, gen.json, 'regenerate: node dashboards/grafana/generate-dashboard.mjs ' + DASHBOARD);
  const ids = dash.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of dash.panels) {
    if (p.type === 'row') continue;
    assert.ok(p.targets?.length, `panel ${p.title} has queries`);
    for (const t of p.targets) assert.ok(t.expr && t.refId, `panel ${p.title}: query without expr/refId`);
    const g = p.gridPos;
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `panel ${p.title} fits the 24-column grid`);
  }
});

test('the dashboard covers traffic, latency, TTFT, tokens, spend, refusals, errors, fleet', () => {
  const dash = JSON.parse(read(DASHBOARD));
  const titles = dash.panels.map((p) => p.title.toLowerCase()).join('\n');
  for (const word of ['requests', 'duration', 'first token', 'tokens', 'spend', 'rejections', 'errors', 'config revision', 'virtual key', 'model']) {
    assert.ok(titles.includes(word), `no panel about "${word}"`);
  }
});

test('the dashboard queries only the metrics of the list, and all of them', () => {
  const dash = JSON.parse(read(DASHBOARD));
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  exprs.push(...dash.templating.list.map((v) => v.definition ?? ''));
  const used = new Set();
  for (const e of exprs) {
    for (const m of e.matchAll(/\b((?:gen_ai|llmproxy)_[a-z0-9_]+)/g)) {
      used.add(m[1].replace(/_(bucket|sum|count)$/, ''));
    }
  }
  for (const m of used) assert.ok(METRICS.includes(m), `dashboard uses ${m}, not in METRICS`);
  for (const m of METRICS) assert.ok(used.has(m), `no panel shows ${m}`);
});

// --------------------------------------------------------------------- helm

const TEMPLATES = path.join(CHART, 'templates');
const templateFiles = () => readdirSync(TEMPLATES).map((f) => path.join(TEMPLATES, f));

// The {{ ... }} actions of a template, comments removed.
function actions(text) {
  const out = [];
  const re = /\{\{(-?)([\s\S]*?)(-?)\}\}/g;
  let m;
  while ((m = re.exec(text))) {
    const body = m[2].trim();
    if (body.startsWith('/*')) {
      assert.ok(body.endsWith('*/'), `unterminated comment: ${body.slice(0, 40)}`);
      continue;
    }
    out.push({ body, index: m.index });
  }
  return out;
}

test('helm: Chart.yaml and values.yaml', () => {
  const chart = YAML.parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8'));
  assert.equal(chart.apiVersion, 'v2');
  assert.equal(chart.name, 'llm-proxy');
  assert.match(chart.version, /^\d+\.\d+\.\d+/);
  assert.equal(typeof chart.appVersion, 'string');
  const values = YAML.parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
  assert.equal(values.controlplane.replicaCount, 2);
  assert.equal(values.controlplane.grpcPort, 50051);
  assert.equal(values.controlplane.httpPort, 9091);
  assert.equal(values.dataplane.httpPort, 8080);
  assert.equal(values.dataplane.adminPort, 9090);
  assert.equal(values.postgresql.enabled, false);
  assert.equal(values.serviceMonitor.enabled, false);
  assert.equal(values.securityContext.readOnlyRootFilesystem, true);
  assert.equal(values.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(values.securityContext.capabilities.drop, ['ALL']);
  assert.equal(values.podSecurityContext.runAsNonRoot, true);
  assert.equal(values.podSecurityContext.seccompProfile.type, 'RuntimeDefault');
  for (const f of ['.helmignore', 'templates/NOTES.txt', 'templates/_helpers.tpl']) {
    assert.ok(existsSync(path.join(CHART, f)), `${f} missing`);
  }
});

test('helm: every value in values.yaml is documented (helm-docs "# --")', () => {
  const lines = readFileSync(path.join(CHART, 'values.yaml'), 'utf8').split('\n');
  const undocumented = [];
  lines.forEach((line, i) => {
    const m = line.match(/^(\s*)([A-Za-z][\w-]*):(\s*)(.*)$/);
    if (!m) return;
    const [, indent, key, , rest] = m;
    // A key whose value is a block mapping is a section: its leaves carry the docs.
    const next = lines.slice(i + 1).find((l) => l.trim() && !l.trim().startsWith('#')) ?? '';
    const isSection = rest === '' && next.match(/^\s*/)[0].length > indent.length && !next.trim().startsWith('- ');
    if (isSection && !['resources', 'podSecurityContext', 'securityContext'].includes(key)) return;
    // Walk up over the comment block; it must contain "# --".
    let j = i - 1;
    let documented = false;
    while (j >= 0 && lines[j].trim().startsWith('#')) {
      if (lines[j].trim().startsWith('# --')) documented = true;
      j--;
    }
    // A documented parent (resources, securityContext...) covers its children.
    if (!documented && indent.length > 0) {
      let depth = indent.length;
      for (let k = i - 1; k >= 0; k--) {
        const pm = lines[k].match(/^(\s*)([A-Za-z][\w-]*):\s*$/);
        if (pm && pm[1].length < depth) {
          depth = pm[1].length;
          let c = k - 1;
          while (c >= 0 && lines[c].trim().startsWith('#')) {
            if (lines[c].trim().startsWith('# --')) documented = true;
            c--;
          }
          if (documented || pm[1].length === 0) break;
        }
      }
    }
    if (!documented) undocumented.push(`${i + 1}: ${line.trim()}`);
  });
  assert.deepEqual(undocumented, []);
});

test('helm: template actions are balanced and includes are defined', () => {
  const defined = new Set();
  for (const f of templateFiles()) {
    for (const a of actions(readFileSync(f, 'utf8'))) {
      const m = a.body.match(/^define\s+"([^"]+)"/);
      if (m) defined.add(m[1]);
    }
  }
  for (const f of templateFiles()) {
    const text = readFileSync(f, 'utf8');
    const name = path.basename(f);
    // Every {{ has its }}.
    assert.equal((text.match(/\{\{/g) ?? []).length, (text.match(/\}\}/g) ?? []).length, `${name}: unbalanced braces`);
    const stack = [];
    for (const a of actions(text)) {
      const kw = a.body.match(/^(if|with|range|define|block|else|end)\b/)?.[1];
      const line = text.slice(0, a.index).split('\n').length;
      if (['if', 'with', 'range', 'define', 'block'].includes(kw)) stack.push({ kw, line });
      else if (kw === 'else') assert.ok(stack.length && ['if', 'with', 'range'].includes(stack.at(-1).kw), `${name}:${line}: else outside if/with/range`);
      else if (kw === 'end') assert.ok(stack.pop(), `${name}:${line}: end without a block`);
      for (const inc of a.body.matchAll(/\b(?:include|template)\s+"([^"]+)"/g)) {
        assert.ok(defined.has(inc[1]), `${name}:${line}: include of undefined "${inc[1]}"`);
      }
      // The parentheses of an action balance.
      assert.equal((a.body.match(/\(/g) ?? []).length, (a.body.match(/\)/g) ?? []).length, `${name}:${line}: parentheses`);
    }
    assert.deepEqual(stack, [], `${name}: unclosed ${stack.map((s) => `${s.kw}@${s.line}`).join(', ')}`);
  }
});

test('helm: every .Values path the templates use is in values.yaml', () => {
  const values = YAML.parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
  const missing = [];
  for (const f of templateFiles()) {
    const text = readFileSync(f, 'utf8');
    for (const a of actions(text)) {
      for (const m of a.body.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        let v = values;
        for (const key of m[1].slice(1).split('.')) {
          if (v === null || typeof v !== 'object' || !(key in v)) {
            missing.push(`${path.basename(f)}: .Values${m[1]}`);
            break;
          }
          v = v[key];
        }
      }
    }
  }
  assert.deepEqual([...new Set(missing)], []);
});

// A template with its actions blanked: lines holding only actions go, other
// actions become a placeholder scalar. What is left must be YAML of the shape
// of a Kubernetes object.
export function blankTemplate(text) {
  const noComments = text.replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}\n?/g, '');
  return noComments
    .split('\n')
    .filter((l) => l.replace(/\{\{[\s\S]*?\}\}/g, '').trim() !== '' || l.trim() === '')
    .map((l) => l.replace(/\{\{[\s\S]*?\}\}/g, 'X'))
    .join('\n');
}

test('helm: each template is YAML with apiVersion, kind and metadata.name', () => {
  const kinds = new Set();
  for (const f of templateFiles().filter((p) => p.endsWith('.yaml'))) {
    const name = path.basename(f);
    const docs = parseYaml(blankTemplate(readFileSync(f, 'utf8')), name).filter((d) => d);
    assert.ok(docs.length > 0, `${name}: no object`);
    for (const d of docs) {
      assert.ok(d.apiVersion && d.kind, `${name}: apiVersion/kind`);
      assert.ok(d.metadata && 'name' in d.metadata, `${name}: metadata.name`);
      kinds.add(d.kind);
    }
  }
  for (const k of ['Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'Secret', 'ServiceMonitor', 'StatefulSet', 'ServiceAccount']) {
    assert.ok(kinds.has(k), `no ${k} in the chart`);
  }
});

test('helm: deployments have probes, resources, a restricted securityContext and an emptyDir for data', () => {
  for (const [file, probePort] of [['controlplane-deployment.yaml', 'metrics'], ['dataplane-deployment.yaml', 'metrics']]) {
    const text = readFileSync(path.join(TEMPLATES, file), 'utf8');
    const [dep] = parseYaml(blankTemplate(text), file);
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(c.readinessProbe.httpGet.path, '/readyz', file);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz', file);
    assert.equal(c.readinessProbe.httpGet.port, probePort, file);
    assert.ok(c.ports.some((p) => p.name === probePort), file);
    assert.ok('resources' in c, file);
    assert.ok('securityContext' in c && 'securityContext' in pod, file);
    assert.match(text, /include "llm-proxy\.containerSecurityContext"/);
    assert.match(text, /include "llm-proxy\.podSecurityContext"/);
    const data = pod.volumes.find((v) => v.name === 'data');
    assert.ok(data && 'emptyDir' in data, `${file}: data is an emptyDir`);
    assert.ok(c.volumeMounts.some((m) => m.name === 'data' && m.mountPath === '/var/lib/llm-proxy/data'), file);
  }
  const cpSvc = parseYaml(blankTemplate(readFileSync(path.join(TEMPLATES, 'controlplane-service.yaml'), 'utf8')), 'cp svc')[0];
  assert.deepEqual(cpSvc.spec.ports.map((p) => p.name), ['grpc', 'metrics']);
  const dpSvc = parseYaml(blankTemplate(readFileSync(path.join(TEMPLATES, 'dataplane-service.yaml'), 'utf8')), 'dp svc')[0];
  assert.deepEqual(dpSvc.spec.ports.map((p) => p.name), ['http', 'metrics']);
});

test('helm: the Secret holds the keys the Deployments read', () => {
  const secret = readFileSync(path.join(TEMPLATES, 'secret.yaml'), 'utf8');
  const provided = new Set([...secret.matchAll(/^\s+([a-z-]+): \{\{/gm)].map((m) => m[1]));
  for (const f of templateFiles()) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/secretKeyRef:\s*\n\s*name: [^\n]*\n\s*key: ([a-z-]+)/g)) {
      assert.ok(provided.has(m[1]), `${path.basename(f)} reads key ${m[1]} the Secret lacks`);
    }
  }
});
