// The deployment files against the real programs: the flags and LLMPROXY_*
// variables docker-compose.yml, the Helm chart and the demo seed script use
// must exist in the binaries (`--help`; the contract's list when a binary is
// not built), every Dockerfile build/ENTRYPOINT names a CMake target, the
// runtime-package list of each built binary resolves, and the container
// scripts (health check, seed) work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync, statSync, mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { spawnSync, spawn } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const ROOT = process.env.LLMPROXY_SOURCE_DIR
  ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN_DIR = process.env.LLMPROXY_BIN_DIR ?? path.join(ROOT, 'build', 'bin');
const read = (rel) => readFileSync(path.join(ROOT, rel), 'utf8');


const envOf = (flag) => `LLMPROXY_${flag.toUpperCase().replace(/-/g, '_')}`;

function run(bin, args) {
  return spawnSync(bin, args, { encoding: 'utf8', timeout: 10000, env: { PATH: process.env.PATH } });
}

// { flags:Set, envs:Set, source, help } of one binary, from its --help.
const known = new Map();
function flagsOf(binary) {
  if (known.has(binary)) return known.get(binary);
  const bin = path.join(BIN_DIR, binary);
  assert.ok(existsSync(bin), `${binary} is not built in ${BIN_DIR}`);
  let result;
  {
    const r = run(bin, ['--help']);
    const help = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, `${binary} --help exited ${r.status}: ${help}`);
    const flags = new Set([...help.matchAll(/--([a-z0-9][a-z0-9-]*)/g)].map((m) => m[1]));
    const envs = new Set([...help.matchAll(/\b(LLMPROXY_[A-Z0-9_]+)/g)].map((m) => m[1]));
    for (const f of flags) envs.add(envOf(f));
    result = { flags, envs, source: '--help', help };
  }
  known.set(binary, result);
  return result;
}

function checkUse(t, binary, where, flags, envs) {
  const k = flagsOf(binary);
  for (const f of flags) assert.ok(k.flags.has(f), `${where}: ${binary} has no flag --${f} (${k.source})`);
  for (const e of envs) assert.ok(k.envs.has(e), `${where}: ${binary} reads no ${e} (${k.source})`);
}

const flagName = (arg) => arg.replace(/^--/, '').split('=')[0];

// -------------------------------------------------------------- compose, helm

const TARGET_BINARY = { controlplane: 'llm-proxy-controlplane', dataplane: 'llm-proxy-dataplane', cli: 'llm-proxy' };

test('compose uses only flags and LLMPROXY_* variables the binaries have', (t) => {
  const compose = YAML.parse(read('docker-compose.yml'));
  for (const [name, svc] of Object.entries(compose.services)) {
    const binary = TARGET_BINARY[svc.build?.target];
    if (!binary) continue;
    const flags = (svc.command ?? []).filter((a) => a.startsWith('--')).map(flagName);
    const envs = Object.keys(svc.environment ?? {}).filter((e) => e.startsWith('LLMPROXY_'));
    checkUse(t, binary, `compose service ${name}`, flags, envs);
  }
});

test('the Helm chart uses only flags and LLMPROXY_* variables the binaries have', (t) => {
  const dir = path.join(ROOT, 'helm', 'llm-proxy', 'templates');
  for (const [file, binary] of [['controlplane-deployment.yaml', 'llm-proxy-controlplane'], ['dataplane-deployment.yaml', 'llm-proxy-dataplane']]) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    const flags = [...text.matchAll(/^\s*- --([a-z0-9-]+)/gm)].map((m) => m[1]);
    const envs = [...text.matchAll(/- name: (LLMPROXY_[A-Z0-9_]+)/g)].map((m) => m[1]);
    assert.ok(flags.length > 0 && envs.length > 0, file);
    checkUse(t, binary, `helm ${file}`, flags, envs);
  }
});

test('the Dockerfile sets only LLMPROXY_* variables the binaries have', (t) => {
  const stages = dockerStages();
  for (const [stage, body] of Object.entries(stages)) {
    const binary = TARGET_BINARY[stage];
    if (!binary) continue;
    const envs = [...body.matchAll(/\b(LLMPROXY_[A-Z0-9_]+)=/g)].map((m) => m[1]);
    checkUse(t, binary, `Dockerfile stage ${stage}`, [], envs);
  }
});

test('the seed script calls the CLI with flags it has', (t) => {
  const script = read('docker/seed-demo.sh');
  const bin = path.join(BIN_DIR, 'llm-proxy');
  // Each "<kind> add --flag ..." call, continuation lines joined.
  const joined = script.replace(/\\\n\s*/g, ' ');
  const calls = [...joined.matchAll(/\b(?:cli|create)\s+(?:-o json\s+)?(connection|model|vkey)\s+(?:add\s+)?((?:--[a-z-]+\s+\S+\s*)+)/g)];
  assert.ok(calls.length >= 3, `found ${calls.length} CLI calls`);
  for (const [, kind, rest] of calls) {
    const flags = [...rest.matchAll(/--([a-z-]+)/g)].map((m) => m[1]);
    if (!existsSync(bin)) {
      t.diagnostic('llm-proxy is not built: flags of the seed script not checked');
      return;
    }
    const r = run(bin, [kind, 'add', '--help']);
    const help = `${r.stdout}\n${r.stderr}`;
    for (const f of flags) assert.ok(help.includes(`--${f}`), `llm-proxy ${kind} add has no --${f}`);
  }
  if (existsSync(bin)) {
    const help = flagsOf('llm-proxy').help;
    assert.match(help, /-o\b|--output/, 'llm-proxy has -o');
  }
});

// ------------------------------------------------------------------ Docker

function dockerStages() {
  const text = read('docker/Dockerfile').replace(/\\\n/g, ' ');
  const stages = {};
  let current = null;
  for (const line of text.split('\n')) {
    const m = line.match(/^FROM\s+\S+(?:\s+AS\s+(\S+))?/i);
    if (m) {
      current = m[1] ?? `#${Object.keys(stages).length}`;
      stages[current] = '';
    } else if (current) {
      stages[current] += `${line}\n`;
    }
  }
  return stages;
}

function cmakeTargets() {
  const targets = new Set();
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name.startsWith('.') || name.startsWith('build')) continue;
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name === 'CMakeLists.txt') {
        for (const m of readFileSync(p, 'utf8').matchAll(/add_executable\(\s*([A-Za-z0-9_.+-]+)/g)) targets.add(m[1]);
      }
    }
  };
  walk(ROOT);
  return targets;
}

test('every image builds a CMake target and its ENTRYPOINT is that binary', () => {
  const stages = dockerStages();
  const targets = cmakeTargets();
  for (const [stage, binary] of Object.entries(TARGET_BINARY)) {
    const body = stages[stage];
    assert.ok(body !== undefined, `no stage ${stage}`);
    const ep = body.match(/^ENTRYPOINT\s+(\[.*\])/m);
    assert.ok(ep, `stage ${stage} has an exec-form ENTRYPOINT`);
    const entry = JSON.parse(ep[1])[0];
    assert.equal(path.basename(entry), binary, `stage ${stage} runs ${entry}`);
    assert.ok(targets.has(binary), `${binary} is no add_executable target (targets: ${[...targets].join(' ')})`);
    assert.match(body, /^USER 10001/m, `stage ${stage} runs as uid 10001`);
    const from = body.match(/^COPY --from=(\S+)/m)?.[1];
    assert.ok(from && stages[from] !== undefined, `stage ${stage} copies from a build stage`);
    assert.ok(stages[from].includes(`--target ${binary}`), `stage ${from} builds only ${binary}`);
  }
  for (const [stage, body] of Object.entries(stages)) {
    for (const m of body.matchAll(/^COPY\s+(?:--chmod=\S+\s+)?(docker\/\S+)/gm)) {
      assert.ok(existsSync(path.join(ROOT, m[1])), `stage ${stage} copies missing ${m[1]}`);
    }
  }
  assert.match(stages.controlplane, /^EXPOSE 50051 9091$/m);
  assert.match(stages.dataplane, /^EXPOSE 8080 9090$/m);
  assert.match(stages.controlplane, /^HEALTHCHECK /m);
  assert.match(stages.dataplane, /^HEALTHCHECK /m);
  const ignore = read('.dockerignore').split('\n').map((l) => l.trim());
  for (const needed of ['docker', 'docker/', 'CMakeLists.txt', 'proto', 'common']) {
    assert.ok(!ignore.includes(needed), `.dockerignore drops ${needed}`);
  }
});

test('the runtime packages of each built binary resolve to non-dev Debian packages', (t) => {
  const script = path.join(ROOT, 'docker', 'runtime-packages.sh');
  const built = Object.values(TARGET_BINARY).filter((b) => existsSync(path.join(BIN_DIR, b)));
  assert.equal(built.length, Object.values(TARGET_BINARY).length, `binaries missing in ${BIN_DIR}`);
  for (const b of built) {
    const r = spawnSync(script, [path.join(BIN_DIR, b)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${b}: ${r.stderr}`);
    const pkgs = r.stdout.trim().split('\n');
    t.diagnostic(`${b}: ${pkgs.join(' ')}`);
    assert.ok(pkgs.includes('libc6'), b);
    for (const p of pkgs) assert.doesNotMatch(p, /-dev$/, `${b} would need ${p} at run time`);
  }
});

test('scripts in the images have valid shell syntax', () => {
  for (const [shell, file] of [['sh', 'docker/seed-demo.sh'], ['sh', 'docker/runtime-packages.sh'], ['bash', 'docker/healthcheck.sh']]) {
    const r = spawnSync(shell, ['-n', path.join(ROOT, file)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${file}: ${r.stderr}`);
  }
});

test('the health check passes on 200 and fails on 503 and on a closed port', async () => {
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 503, { 'content-type': 'text/plain' });
    res.end('x');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const check = (p, urlPath) => new Promise((resolve) => {
    const child = spawn('bash', [path.join(ROOT, 'docker/healthcheck.sh'), String(p), urlPath], { stdio: 'ignore' });
    child.on('exit', (code) => resolve(code));
  });
  try {
    assert.equal(await check(port, '/healthz'), 0);
    assert.equal(await check(port, '/readyz'), 1);
  } finally {
    await new Promise((r) => server.close(r));
  }
  assert.equal(await check(port, '/healthz'), 1);
});

// A stand-in `llm-proxy` that keeps its objects in a JSON file, answers
// `-o json <kind> list|add`, and refuses a second object of the same name
// with exit 16 (ALREADY_EXISTS) for connections and virtual keys, like the
// server (models may share a name, so the script must look first).
const FAKE_CLI = `#!/usr/bin/env node
const fs = require('fs');
const db = process.env.FAKE_DB;
const state = fs.existsSync(db) ? JSON.parse(fs.readFileSync(db, 'utf8')) : { connection: [], model: [], vkey: [], calls: [] };
let args = process.argv.slice(2);
if (args[0] === '-o') args = args.slice(2);
const [kind, verb, ...rest] = args;
state.calls.push([kind, verb, ...rest].join(' '));
const flag = (n) => { const i = rest.indexOf('--' + n); return i >= 0 ? rest[i + 1] : undefined; };
const save = () => fs.writeFileSync(db, JSON.stringify(state));
if (verb === 'list') {
  const key = { connection: 'connections', model: 'models', vkey: 'virtual_keys' }[kind];
  console.log(JSON.stringify({ [key]: state[kind] }));
  save(); process.exit(0);
}
if (verb === 'add') {
  const name = flag('name');
  if (kind !== 'model' && state[kind].some((o) => o.name === name)) {
    console.error('error: ALREADY_EXISTS: ' + kind + ' name "' + name + '" is taken'); save(); process.exit(16);
  }
  if (kind === 'model' && !state.connection.some((c) => c.id === flag('conn-id'))) { console.error('error: NOT_FOUND'); save(); process.exit(15); }
  const prefix = { connection: 'cn_', model: 'md_', vkey: 'vk_' }[kind];
  state[kind].push({ id: prefix + String(state[kind].length + 1).padStart(12, '0'), name });
  save(); console.log('{}'); process.exit(0);
}
console.error('unexpected call'); process.exit(2);
`;

test('the seed script creates the demo objects once and is idempotent', (t) => {
  const jq = spawnSync('jq', ['--version']);
  assert.equal(jq.status, 0, 'jq is not installed (scripts/install_deps.sh installs it)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmproxy-seed-'));
  try {
    writeFileSync(path.join(dir, 'llm-proxy'), FAKE_CLI);
    chmodSync(path.join(dir, 'llm-proxy'), 0o755);
    const env = {
      PATH: `${dir}:${process.env.PATH}`,
      FAKE_DB: path.join(dir, 'db.json'),
      LLMPROXY_SERVER: 'controlplane:50051',
      LLMPROXY_ADMIN_TOKEN: 'admin-token-for-test',
      DEMO_API_KEY: 'sk-provider-secret-1234',
      DEMO_VIRTUAL_KEY: 'sk-lp-demo-secret-5678',
    };
    const seed = () => spawnSync('sh', [path.join(ROOT, 'docker/seed-demo.sh')], { encoding: 'utf8', env });
    const first = seed();
    assert.equal(first.status, 0, first.stderr + first.stdout);
    const second = seed();
    assert.equal(second.status, 0, second.stderr + second.stdout);
    const state = JSON.parse(readFileSync(env.FAKE_DB, 'utf8'));
    assert.deepEqual(state.connection.map((c) => c.name), ['demo-openai']);
    assert.deepEqual(state.model.map((c) => c.name), ['gpt-fast']);
    assert.deepEqual(state.vkey.map((c) => c.name), ['demo-team']);
    assert.ok(state.calls.some((c) => c.includes('model add') && c.includes('--conn-id cn_000000000001')), state.calls.join('\n'));
    assert.ok(state.calls.some((c) => c.includes('vkey add') && c.includes('--model-id md_000000000001')), state.calls.join('\n'));
    for (const out of [first, second]) {
      for (const secret of [env.DEMO_API_KEY, env.DEMO_VIRTUAL_KEY, env.LLMPROXY_ADMIN_TOKEN]) {
        assert.ok(!(out.stdout + out.stderr).includes(secret), 'the seed script printed a secret');
      }
    }
    // A connection made by someone else in between: ALREADY_EXISTS is success.
    const racing = JSON.parse(readFileSync(env.FAKE_DB, 'utf8'));
    racing.vkey = [];
    writeFileSync(env.FAKE_DB, JSON.stringify(racing));
    const third = seed();
    assert.equal(third.status, 0, third.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
