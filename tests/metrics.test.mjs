// End-to-end tests of the Prometheus metrics of both planes (issue 6, item 6): parses /metrics of
// the real data plane (admin port) and control plane (http address), sends requests through the
// fake upstream (deterministic usage: prompt_tokens = words of the prompt, completion_tokens =
// max_tokens) and checks that the counters move by exactly what passed; and checks that every
// metric the Grafana dashboard queries exists in the real /metrics output.
//
// Run: cd tests && LLMPROXY_BIN_DIR=<build>/bin node --test metrics.test.mjs
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startStack, findId, freePort } from './lib/dataplane.mjs';

const OPENAI_KEY = 'sk-real-openai-metrics-0123456789';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE_DIR = process.env.LLMPROXY_SOURCE_DIR ?? path.join(HERE, '..');
const DASHBOARD = path.join(SOURCE_DIR, 'dashboards', 'grafana', 'dashboards', 'llm-proxy.json');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const vkey = (tag) => `sk-lp-${tag}${'0'.repeat(48 - tag.length)}`;
const KEY_MAIN = vkey('metricsmain');
const KEY_LIMITED = vkey('metricslimited');

// ---------------------------------------------------------------------------- Prometheus text parser

function unescapeLabel(v) {
  return v.replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
}

function parseValue(v) {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/**
 * Parses the Prometheus text exposition format (0.0.4).
 * Returns {samples: [{name, labels, value}], types: Map(family -> type), has(name), sum(name, labels)}.
 */
export function parsePrometheus(text) {
  const samples = [];
  const types = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) types.set(m[1], m[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels = {};
    if (m[2]) {
      const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
      let lm;
      let consumed = 0;
      while ((lm = re.exec(m[2])) !== null) {
        labels[lm[1]] = unescapeLabel(lm[2]);
        consumed = re.lastIndex;
      }
      if (consumed !== m[2].length) throw new Error(`unparseable labels: ${line}`);
    }
    samples.push({ name: m[1], labels, value: parseValue(m[3]) });
  }
  const matches = (s, name, labels) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    samples,
    types,
    /** Whether the family (or a sample of that name) is exported. */
    has(name) {
      return types.has(name) || samples.some((s) => s.name === name);
    },
    /** Sum of the samples of `name` whose labels include `labels` (0 when none). */
    sum(name, labels = {}) {
      return samples.filter((s) => matches(s, name, labels)).reduce((a, s) => a + s.value, 0);
    },
    count(name, labels = {}) {
      return samples.filter((s) => matches(s, name, labels)).length;
    },
  };
}

// ---------------------------------------------------------------------------- helpers

let S;
const ids = {};

const scrapeDp = async () => parsePrometheus(await S.dp.metrics());
const scrapeCp = async () => parsePrometheus(await (await fetch(`${S.cp.httpUrl}/metrics`)).text());

async function until(fn, { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {}) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

async function chat(key, body) {
  const res = await fetch(`${S.dp.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

const prompt = (n) => Array.from({ length: n }, (_, i) => `p${i}`).join(' ');
const chatBody = (model, words, maxTokens, extra = {}) => ({ model, messages: [{ role: 'user', content: prompt(words) }], max_tokens: maxTokens, ...extra });

/** Deltas of selected series between two scrapes. */
function delta(before, afterScrape, name, labels = {}) {
  return afterScrape.sum(name, labels) - before.sum(name, labels);
}

// ---------------------------------------------------------------------------- setup

before(async () => {
  S = await startStack({ fake: { apiKeys: [OPENAI_KEY] } });
  const cli = S.cli;
  ids.conn = findId(await cli(['connection', 'add', '--name', 'met-openai', '--provider', 'openai', '--endpoint', S.fake.openaiEndpoint, '--api-key', OPENAI_KEY]), 'cn_');
  // $0.001 per prompt token, $0.002 per completion token.
  ids.chat = findId(await cli(['model', 'add', '--name', 'chat', '--remote', 'gpt-4o-mini', '--conn-id', ids.conn, '--input-price', '1000', '--output-price', '2000']), 'md_');
  ids.err = findId(await cli(['model', 'add', '--name', 'err500', '--remote', 'fake-status500', '--conn-id', ids.conn]), 'md_');
  ids.slow = findId(await cli(['model', 'add', '--name', 'slow', '--remote', 'fake-chunkdelay50', '--conn-id', ids.conn]), 'md_');
  // Two deployments of "multi": the first (priority 0) refuses connections, so every request is
  // retried on the second.
  const deadPort = await freePort();
  ids.dead = findId(await cli(['connection', 'add', '--name', 'met-dead', '--provider', 'openai', '--endpoint', `http://127.0.0.1:${deadPort}/v1`, '--api-key', OPENAI_KEY]), 'cn_');
  await cli(['model', 'add', '--name', 'multi', '--remote', 'gpt-4o-mini', '--conn-id', ids.dead, '--priority', '0']);
  await cli(['model', 'add', '--name', 'multi', '--remote', 'gpt-4o-mini', '--conn-id', ids.conn, '--priority', '1']);
  ids.main = findId(await cli(['vkey', 'add', '--name', 'met-main', '--key', KEY_MAIN, '--conn-id', ids.conn]), 'vk_');
  await cli(['assignment', 'add', '--vkey-id', ids.main, '--conn-id', ids.dead]);
  ids.limited = findId(await cli(['vkey', 'add', '--name', 'met-limited', '--key', KEY_LIMITED, '--conn-id', ids.conn, '--tps', '0.1', '--burst', '1']), 'vk_');
  await until(async () => {
    const r = await fetch(`${S.dp.url}/v1/models`, { headers: { authorization: `Bearer ${KEY_LIMITED}` } });
    await r.text();
    return r.status === 200;
  }, { timeoutMs: 15000, what: 'config reaches the data plane' });
});

after(async () => {
  if (S) await S.stop();
});

// ---------------------------------------------------------------------------- tests

describe('metrics', () => {
  it('the parser reads both planes\' /metrics', async () => {
    const dp = await scrapeDp();
    const cp = await scrapeCp();
    assert.ok(dp.samples.length > 0 && cp.samples.length > 0);
    assert.ok(cp.has('llmproxy_controlplane_config_revision'));
    // A sanity check of the parser itself.
    const p = parsePrometheus('# TYPE x counter\nx{a="q\\"uote",b="c\\\\d"} 3\nx{a="z"} +Inf\ny 1.5e3 1700000000\n');
    assert.deepEqual(p.samples[0].labels, { a: 'q"uote', b: 'c\\d' });
    assert.equal(p.sum('x', { a: 'z' }), Infinity);
    assert.equal(p.sum('y'), 1500);
  });

  it('requests, tokens, spend, latency and TTFT move by exactly what passed', async () => {
    const before = await scrapeDp();
    const cpBefore = await scrapeCp();
    const sent = [[2, 3], [4, 5], [1, 1]];
    for (const [w, m] of sent) {
      const r = await chat(KEY_MAIN, chatBody('chat', w, m));
      assert.equal(r.status, 200, r.text);
    }
    const s = await chat(KEY_MAIN, chatBody('chat', 3, 4, { stream: true }));
    assert.equal(s.status, 200, s.text);
    assert.match(s.text, /\[DONE\]/);
    const inTokens = 2 + 4 + 1 + 3;
    const outTokens = 3 + 5 + 1 + 4;

    const okSeries = { virtual_key: 'met-main', model: 'chat', status: '200' };
    const afterScrape = await until(async () => {
      const m = await scrapeDp();
      return delta(before, m, 'llmproxy_requests_total', okSeries) >= 4 ? m : null;
    }, { timeoutMs: 5000, what: 'llmproxy_requests_total{status="200"} +4' });
    assert.equal(delta(before, afterScrape, 'llmproxy_requests_total', okSeries), 4);
    assert.equal(delta(before, afterScrape, 'llmproxy_tokens_total', { virtual_key: 'met-main', model: 'chat', token_type: 'input' }), inTokens);
    assert.equal(delta(before, afterScrape, 'llmproxy_tokens_total', { virtual_key: 'met-main', model: 'chat', token_type: 'output' }), outTokens);
    const genai = { model: 'chat', provider: 'openai' };
    assert.equal(delta(before, afterScrape, 'gen_ai_client_token_usage_sum', { ...genai, token_type: 'input' }), inTokens);
    assert.equal(delta(before, afterScrape, 'gen_ai_client_token_usage_sum', { ...genai, token_type: 'output' }), outTokens);
    assert.equal(delta(before, afterScrape, 'gen_ai_client_token_usage_count', { ...genai, token_type: 'input' }), 4);
    assert.equal(delta(before, afterScrape, 'gen_ai_server_request_duration_seconds_count', genai), 4);
    // TTFT: at least the stream (non-streamed responses may or may not be observed).
    const ttft = delta(before, afterScrape, 'gen_ai_server_time_to_first_token_seconds_count', genai);
    assert.ok(ttft >= 1 && ttft <= 4, `gen_ai_server_time_to_first_token_seconds_count +${ttft}`);
    assert.ok(delta(before, afterScrape, 'gen_ai_server_request_duration_seconds_sum', genai) > 0);
    const le = afterScrape.samples.filter((x) => x.name === 'gen_ai_server_request_duration_seconds_bucket' && x.labels.model === 'chat');
    assert.ok(le.some((x) => x.labels.le === '+Inf'), 'histogram has a +Inf bucket');
    const spend = delta(before, afterScrape, 'llmproxy_spend_usd_total', { virtual_key: 'met-main', model: 'chat' });
    assert.ok(Math.abs(spend - (inTokens * 0.001 + outTokens * 0.002)) < 1e-9, `spend ${spend}`);
    assert.equal(afterScrape.sum('llmproxy_active_streams'), 0);
    assert.equal(afterScrape.sum('llmproxy_active_requests'), 0);
    for (const x of afterScrape.samples) {
      for (const v of Object.values(x.labels)) {
        assert.doesNotMatch(v, /^req_|^sk-/, `a request id or key in a label: ${x.name} ${JSON.stringify(x.labels)}`);
      }
    }

    // The usage records reach the control plane and are counted on both sides.
    await until(async () => {
      const dp = await scrapeDp();
      const cp = await scrapeCp();
      return delta(before, dp, 'llmproxy_usage_records_sent_total') >= 4
        && delta(cpBefore, cp, 'llmproxy_controlplane_usage_records_total', { result: 'accepted' }) >= 4;
    }, { timeoutMs: 15000, intervalMs: 200, what: 'usage records sent (data plane) and accepted (control plane)' });
  });

  it('counts a limit refusal by kind', async () => {
    const before = await scrapeDp();
    const a = await chat(KEY_LIMITED, chatBody('chat', 1, 1));
    const b = await chat(KEY_LIMITED, chatBody('chat', 1, 1));
    assert.deepEqual([a.status, b.status], [200, 429], b.text);
    const afterScrape = await until(async () => {
      const m = await scrapeDp();
      return delta(before, m, 'llmproxy_requests_total', { virtual_key: 'met-limited', status: '429' }) >= 1 ? m : null;
    }, { timeoutMs: 5000, what: 'llmproxy_requests_total{status="429"} +1' });
    assert.equal(delta(before, afterScrape, 'llmproxy_limit_rejections_total', { kind: 'requests' }), 1);
    assert.equal(delta(before, afterScrape, 'llmproxy_limit_rejections_total'), 1);
    assert.equal(delta(before, afterScrape, 'llmproxy_requests_total', { virtual_key: 'met-limited', status: '200' }), 1);
  });

  it('counts an upstream 5xx as an upstream error', async () => {
    const before = await scrapeDp();
    const r = await chat(KEY_MAIN, chatBody('err500', 2, 2));
    assert.ok(r.status >= 500, `HTTP ${r.status}`);
    const afterScrape = await until(async () => {
      const m = await scrapeDp();
      return delta(before, m, 'llmproxy_requests_total', { model: 'err500', status: String(r.status) }) >= 1 ? m : null;
    }, { timeoutMs: 5000, what: `llmproxy_requests_total{model="err500",status="${r.status}"} +1` });
    assert.ok(delta(before, afterScrape, 'llmproxy_upstream_errors_total', { provider: 'openai' }) >= 1, 'llmproxy_upstream_errors_total{provider="openai"}');
    assert.equal(delta(before, afterScrape, 'llmproxy_tokens_total', { model: 'err500' }), 0);
  });

  it('counts a failed deployment as an upstream error and the retry on the next one', async () => {
    const before = await scrapeDp();
    const r = await chat(KEY_MAIN, chatBody('multi', 2, 2));
    assert.equal(r.status, 200, r.text);
    const afterScrape = await until(async () => {
      const m = await scrapeDp();
      return delta(before, m, 'llmproxy_requests_total', { model: 'multi', status: '200' }) >= 1 ? m : null;
    }, { timeoutMs: 5000, what: 'llmproxy_requests_total{model="multi",status="200"} +1' });
    assert.equal(delta(before, afterScrape, 'llmproxy_upstream_retries_total'), 1, 'llmproxy_upstream_retries_total');
    assert.ok(delta(before, afterScrape, 'llmproxy_upstream_errors_total') >= 1, 'llmproxy_upstream_errors_total');
  });

  it('shows an active stream while it runs', async () => {
    const res = await fetch(`${S.dp.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_MAIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('slow', 2, 20, { stream: true })),  // ~1 s
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    await reader.read();  // the stream has started
    const during = await scrapeDp();
    assert.ok(during.sum('llmproxy_active_streams') >= 1, `llmproxy_active_streams ${during.sum('llmproxy_active_streams')}`);
    while (!(await reader.read()).done) { /* drain */ }
    await until(async () => (await scrapeDp()).sum('llmproxy_active_streams') === 0, { timeoutMs: 5000, what: 'llmproxy_active_streams back to 0' });
  });

  it('the config revision applied equals `llm-proxy revision`; pushes are counted', async () => {
    const before = await scrapeDp();
    findId(await S.cli(['model', 'add', '--name', 'late-model', '--remote', 'gpt-4o', '--conn-id', ids.conn]), 'md_');
    const rev = Number((await S.cli(['revision'])).revision);
    assert.ok(rev > 0);
    const dp = await until(async () => {
      const m = await scrapeDp();
      return m.sum('llmproxy_config_revision') === rev ? m : null;
    }, { timeoutMs: 5000, what: `llmproxy_config_revision == ${rev}` }).catch(async (e) => {
      throw new Error(`${e.message} (data plane shows ${(await scrapeDp()).sum('llmproxy_config_revision')})`);
    });
    assert.ok(delta(before, dp, 'llmproxy_config_pushes_total', { result: 'ack' }) >= 1, 'an ACKed push was counted');
    assert.equal(dp.sum('llmproxy_config_pushes_total', { result: 'nack' }), 0);
    const cp = await scrapeCp();
    assert.equal(cp.sum('llmproxy_controlplane_config_revision'), rev);
    assert.ok(cp.sum('llmproxy_controlplane_dataplanes_connected') >= 1);
    assert.ok(cp.has('llmproxy_controlplane_rpc_duration_seconds'));
  });

  it('every metric the Grafana dashboard queries exists on the plane it is queried from', async () => {
    const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
    const exprs = [];
    (function walk(o) {
      if (Array.isArray(o)) { o.forEach(walk); return; }
      if (o && typeof o === 'object') {
        for (const [k, v] of Object.entries(o)) {
          if (k === 'expr' && typeof v === 'string') exprs.push(v);
          else if (k === 'query' && typeof v === 'string' && /label_values|query_result/.test(v)) exprs.push(v);
          else walk(v);
        }
      }
    })(dashboard);
    assert.ok(exprs.length >= 10, `only ${exprs.length} queries found in the dashboard`);

    const dp = await scrapeDp();
    const cp = await scrapeCp();
    const found = (plane, name) => {
      if (plane.has(name)) return true;
      const base = name.replace(/_(bucket|sum|count)$/, '');
      return base !== name && plane.types.get(base) === 'histogram';
    };
    const missing = [];
    let checked = 0;
    for (const expr of exprs) {
      for (const { name, job } of metricSelectors(expr)) {
        if (name === 'up') continue;  // made by Prometheus itself, not exported
        checked += 1;
        const planes = job === 'controlplane' ? [['control plane', cp]] : job === 'dataplane' ? [['data plane', dp]] : [['data plane', dp], ['control plane', cp]];
        if (!planes.some(([, p]) => found(p, name))) {
          missing.push(`${name}${job ? ` (queried from the ${job} job)` : ''} in: ${expr}`);
        }
      }
    }
    assert.ok(checked >= 10, `only ${checked} metric selectors extracted`);
    assert.deepEqual(missing, [], `dashboard queries metrics that are not exported:\n${missing.join('\n')}`);

    // The job matchers it uses match jobs of the shipped Prometheus scrape config.
    const scrape = fs.readFileSync(path.join(SOURCE_DIR, 'dashboards', 'prometheus.yml'), 'utf8');
    const jobNames = [...scrape.matchAll(/job_name:\s*["']?([^"'\s]+)/g)].map((m) => m[1]);
    for (const expr of exprs) {
      for (const m of expr.matchAll(/job\s*=~\s*"([^"]*)"/g)) {
        const re = new RegExp(`^(?:${m[1]})$`);
        assert.ok(jobNames.some((j) => re.test(j)), `job=~"${m[1]}" matches no job_name of dashboards/prometheus.yml (${jobNames.join(', ')})`);
      }
    }
  });
});

/**
 * The metric selectors of a PromQL expression (or a Grafana label_values() query): [{name, job}]
 * where job is 'controlplane' / 'dataplane' when the selector filters on a job label naming one
 * plane.
 */
export function metricSelectors(expr) {
  const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
  const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
  const tokenRe = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\}|\[[^\]]*\]|\$?[a-zA-Z_:][a-zA-Z0-9_:]*|\d+(?:\.\d+)?(?:e[+-]?\d+)?|\S/g;
  const tokens = expr.match(tokenRe) ?? [];
  const out = [];
  const jobOf = (block) => {
    const jm = /job\s*=~?\s*"([^"]*)"/.exec(block ?? '');
    if (!jm) return null;
    return /controlplane/.test(jm[1]) ? 'controlplane' : /dataplane/.test(jm[1]) ? 'dataplane' : null;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!/^[a-zA-Z_:]/.test(t)) continue;
    const next = tokens[i + 1];
    if (GROUPING.has(t)) {
      if (next === '(') { while (i < tokens.length && tokens[i] !== ')') i++; }
      continue;
    }
    if (t === 'label_values' && next === '(') {
      // label_values(metric{…}, label) or label_values(label)
      const a = tokens[i + 2];
      const hasMetric = tokens.slice(i + 2).indexOf(',') >= 0 && tokens.slice(i + 2).indexOf(',') < tokens.slice(i + 2).indexOf(')');
      if (hasMetric && /^[a-zA-Z_:]/.test(a)) out.push({ name: a, job: jobOf(tokens[i + 3]?.startsWith('{') ? tokens[i + 3] : null) });
      while (i < tokens.length && tokens[i] !== ')') i++;
      continue;
    }
    if (next === '(' || GROUPING.has(next)) continue;  // a function call or `sum by (…) (…)`
    if (KEYWORDS.has(t.toLowerCase())) continue;
    out.push({ name: t, job: next?.startsWith('{') ? jobOf(next) : null });
  }
  return out;
}
