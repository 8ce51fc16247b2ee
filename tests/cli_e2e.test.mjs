// The admin CLI `llm-proxy` driven as a process against a real `llm-proxy-controlplane`:
// create/list/get/update/delete of every resource in table and JSON output, the refusals an
// operator meets (and their exit codes), and persistence across a restart on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { runCli, startControlplane } from './lib/controlplane.mjs';

const T = { timeout: 60000 };
const ID = { cn: /^cn_[0-9a-f]{12}$/, md: /^md_[0-9a-f]{12}$/, vk: /^vk_[0-9a-f]{12}$/, as: /^as_[0-9a-f]{12}$/ };
// Exit codes are 10 + the gRPC status code (see `llm-proxy --help`).
const EXIT = { INVALID_ARGUMENT: 13, NOT_FOUND: 15, ALREADY_EXISTS: 16, FAILED_PRECONDITION: 19, ABORTED: 20, UNAVAILABLE: 24, UNAUTHENTICATED: 26 };

/** Runs the CLI and asserts success; returns the result (json parsed when -o json). */
async function ok(cp, args) {
  const r = await cp.cli(args);
  assert.equal(r.code, 0, `llm-proxy ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

/** Runs the CLI and asserts a refusal: the exit code and one readable "error: CODE: …" line. */
async function refused(cp, args, codeName, opts) {
  const r = await cp.cli(args, opts);
  assert.equal(r.code, EXIT[codeName], `llm-proxy ${args.join(' ')}: want exit ${EXIT[codeName]}, got ${r.code}; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0], new RegExp(`^error: ${codeName}: \\S`));
  return r;
}

let seq = 0;
const unique = (p) => `${p}-${process.pid}-${++seq}`;

async function addConnection(cp, extra = []) {
  const name = unique('conn');
  const r = await ok(cp, ['-o', 'json', 'connection', 'add', '--name', name, '--provider', 'openai', '--endpoint', 'https://api.openai.com/v1', '--api-key', `sk-test-${name}-0123456789`, ...extra]);
  return r.json;
}

async function addModel(cp, connId, extra = []) {
  const r = await ok(cp, ['-o', 'json', 'model', 'add', '--name', unique('alias'), '--remote', 'gpt-4o-mini', '--conn-id', connId, ...extra]);
  return r.json;
}

describe('llm-proxy CLI against a SQLite control plane', () => {
  let cp;
  before(async () => {
    cp = await startControlplane();
  });
  after(async () => {
    await cp?.stop();
  });

  test('connection add prints the masked key, never the key', T, async () => {
    const name = unique('oai');
    const apiKey = 'sk-proj-supersecret-value-9876';
    const r = await ok(cp, ['connection', 'add', '--name', name, '--provider', 'openai', '--endpoint', 'https://api.openai.com/v1', '--api-key', apiKey, '--header', 'OpenAI-Organization=org-1', '--timeout-ms', '30000']);
    assert.match(r.stdout, /^id:\s+cn_[0-9a-f]{12}$/m);
    assert.match(r.stdout, new RegExp(`^name:\\s+${name}$`, 'm'));
    assert.match(r.stdout, /^api_key:\s+sk-…9876$/m);
    assert.match(r.stdout, /^extra_headers:\s+OpenAI-Organization=org-1$/m);
    assert.ok(!r.stdout.includes(apiKey), 'plain api key printed');

    const list = await ok(cp, ['connection', 'list']);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    assert.match(header, /^ID\s+NAME\s+PROVIDER\s+ENDPOINT\s+API_KEY\s+ENABLED\s+ETAG$/);
    const row = rows.find((l) => l.includes(name));
    assert.ok(row, `${name} in the list:\n${list.stdout}`);
    // Columns are aligned: every row starts its NAME column where the header does.
    assert.equal(row.indexOf(name), header.indexOf('NAME'));
    assert.ok(!list.stdout.includes(apiKey));
  });

  test('connection list/get/update/delete with -o json', T, async () => {
    const c = await addConnection(cp);
    assert.match(c.id, ID.cn);
    assert.equal(c.provider, 'openai');
    assert.equal(c.enabled, true);
    assert.ok(!c.api_key, 'api_key is write-only');
    assert.match(c.api_key_masked, /…/);

    const list = await ok(cp, ['connection', 'list', '-o', 'json']);
    assert.ok(list.json.connections.some((x) => x.id === c.id));

    const got = await ok(cp, ['connection', 'get', c.id, '-o', 'json']);
    assert.equal(got.json.name, c.name);
    assert.equal(got.json.etag, c.etag);

    // Only the flags given change.
    const upd = await ok(cp, ['-o', 'json', 'connection', 'update', c.id, '--endpoint', 'https://example.test/v1', '--disabled']);
    assert.equal(upd.json.endpoint, 'https://example.test/v1');
    assert.equal(upd.json.enabled, false);
    assert.equal(upd.json.name, c.name);
    assert.equal(upd.json.api_key_masked, c.api_key_masked);
    assert.notEqual(upd.json.etag, c.etag);

    // The current etag is accepted.
    const upd2 = await ok(cp, ['-o', 'json', 'connection', 'update', c.id, '--enabled', '--etag', upd.json.etag]);
    assert.equal(upd2.json.enabled, true);

    const del = await ok(cp, ['connection', 'delete', c.id, '--etag', upd2.json.etag]);
    assert.match(del.stdout, new RegExp(`deleted connection ${c.id} \\(config revision \\d+\\)`));
    await refused(cp, ['connection', 'get', c.id], 'NOT_FOUND');
  });

  test('model add/list/get/update/delete', T, async () => {
    const c = await addConnection(cp);
    const m = await addModel(cp, c.id, ['--input-price', '0.15', '--output-price', '0.6', '--weight', '2', '--priority', '1']);
    assert.match(m.id, ID.md);
    assert.equal(m.remote_model, 'gpt-4o-mini');
    assert.equal(m.connection_id, c.id);
    assert.equal(m.input_price_per_million, 0.15);
    assert.equal(m.weight, 2);

    const table = await ok(cp, ['model', 'list']);
    assert.match(table.stdout.split('\n')[0], /^ID\s+NAME\s+REMOTE\s+CONNECTION/);
    assert.ok(table.stdout.includes(m.id));

    const upd = await ok(cp, ['-o', 'json', 'model', 'update', m.id, '--weight', '5', '--remote', 'gpt-4o']);
    assert.equal(upd.json.weight, 5);
    assert.equal(upd.json.remote_model, 'gpt-4o');
    assert.equal(upd.json.input_price_per_million, 0.15, 'fields not given keep their values');
    assert.equal(upd.json.priority, 1);

    const got = await ok(cp, ['model', 'get', m.id]);
    assert.match(got.stdout, /^remote_model:\s+gpt-4o$/m);

    await ok(cp, ['model', 'delete', m.id]);
    await refused(cp, ['model', 'get', m.id], 'NOT_FOUND');
  });

  test('vkey add creates the key and its assignment, and shows the key once', T, async () => {
    const c = await addConnection(cp);
    const m = await addModel(cp, c.id);
    const name = unique('team');
    const r = await ok(cp, ['vkey', 'add', '--name', name, '--model-id', m.id, '--tps', '5', '--tokens', '1000', '--budget', '10', '--budget-period', 'week', '--meta', 'owner=ml', '--expires', '30d']);
    const key = /^key: (sk-lp-[A-Za-z0-9]{48})$/m.exec(r.stdout)?.[1];
    assert.ok(key, `plain key printed:\n${r.stdout}`);
    assert.match(r.stdout, /only time the key is shown/);
    const vkId = /^id:\s+(vk_[0-9a-f]{12})$/m.exec(r.stdout)?.[1];
    assert.ok(vkId);
    assert.match(r.stdout, new RegExp(`target:\\s+model ${m.id}`));

    // The assignment carries the limits: --tps -> requests_per_second, --tokens -> tokens_per_minute.
    const as = await ok(cp, ['-o', 'json', 'assignment', 'list', '--vkey-id', vkId]);
    assert.equal(as.json.assignments.length, 1);
    const a = as.json.assignments[0];
    assert.equal(a.model_id, m.id);
    assert.equal(a.limits.requests_per_second, 5);
    assert.equal(Number(a.limits.tokens_per_minute), 1000);
    assert.equal(a.limits.budget_usd, 10);
    assert.equal(a.limits.budget_period, 'week');

    // Never again: not in get, not in list.
    const got = await ok(cp, ['-o', 'json', 'vkey', 'get', vkId]);
    assert.ok(!JSON.stringify(got.json).includes(key));
    assert.equal(got.json.key, '');
    assert.equal(got.json.key_prefix, `${key.slice(0, 10)}…`);
    assert.equal(got.json.metadata.owner, 'ml');
    assert.ok(Date.parse(got.json.expire_time) > Date.now() + 29 * 86400e3);
    const list = await ok(cp, ['vkey', 'list']);
    assert.ok(list.stdout.includes(vkId));
    assert.ok(!list.stdout.includes(key));
  });

  test('vkey add -o json with a given key; update; delete removes its assignments', T, async () => {
    const c = await addConnection(cp);
    const given = `sk-lp-given-${process.pid}-${Date.now()}`;
    const r = await ok(cp, ['-o', 'json', 'vkey', 'add', '--name', unique('k'), '--key', given, '--conn-id', c.id, '--max-concurrent', '3']);
    assert.equal(r.json.virtual_key.key, given);
    assert.match(r.json.virtual_key.id, ID.vk);
    assert.equal(r.json.assignment.connection_id, c.id);
    assert.equal(r.json.assignment.limits.max_concurrent, 3);
    assert.match(r.stderr, /only this once/);
    const vk = r.json.virtual_key;

    const upd = await ok(cp, ['-o', 'json', 'vkey', 'update', vk.id, '--disabled', '--tps', '9']);
    assert.equal(upd.json.enabled, false);
    assert.equal(upd.json.limits.requests_per_second, 9, 'limit flags of vkey update are key-wide');
    assert.equal(upd.json.name, vk.name);

    await ok(cp, ['vkey', 'delete', vk.id]);
    await refused(cp, ['vkey', 'get', vk.id], 'NOT_FOUND');
    await refused(cp, ['assignment', 'get', r.json.assignment.id], 'NOT_FOUND');
  });

  test('assignment add/list/get/update/delete', T, async () => {
    const c = await addConnection(cp);
    const m = await addModel(cp, c.id);
    const vk = (await ok(cp, ['-o', 'json', 'vkey', 'add', '--name', unique('k')])).json.virtual_key;
    const a1 = (await ok(cp, ['-o', 'json', 'assignment', 'add', '--vkey-id', vk.id, '--conn-id', c.id, '--budget', '10', '--budget-period', 'day'])).json;
    const a2 = (await ok(cp, ['-o', 'json', 'assignment', 'add', '--vkey-id', vk.id, '--model-id', m.id, '--tps', '2', '--burst', '4'])).json;
    assert.match(a1.id, ID.as);
    assert.match(a2.id, ID.as);

    const table = await ok(cp, ['assignment', 'list', '--vkey-id', vk.id]);
    const lines = table.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, table.stdout);
    assert.match(table.stdout, /rps=2 burst=4/);
    assert.match(table.stdout, /budget=\$10\/day/);

    // Updating one limit keeps the others.
    const upd = await ok(cp, ['-o', 'json', 'assignment', 'update', a1.id, '--tps', '7']);
    assert.equal(upd.json.limits.requests_per_second, 7);
    assert.equal(upd.json.limits.budget_usd, 10);
    assert.equal(upd.json.limits.budget_period, 'day');

    const got = await ok(cp, ['assignment', 'get', a2.id]);
    assert.match(got.stdout, new RegExp(`^target:\\s+model ${m.id}$`, 'm'));

    await ok(cp, ['assignment', 'delete', a2.id]);
    const after1 = await ok(cp, ['-o', 'json', 'assignment', 'list', '--vkey-id', vk.id]);
    assert.deepEqual(after1.json.assignments.map((a) => a.id), [a1.id]);
  });

  test('list follows every page; --page-size gives one page and its token', T, async () => {
    for (let i = 0; i < 5; i++) await addConnection(cp);
    const all = await ok(cp, ['-o', 'json', 'connection', 'list']);
    assert.ok(all.json.connections.length >= 5);
    assert.equal(all.json.next_page_token, '');
    const page = await ok(cp, ['-o', 'json', 'connection', 'list', '--page-size', '2']);
    assert.equal(page.json.connections.length, 2);
    assert.notEqual(page.json.next_page_token, '');
    const next = await ok(cp, ['-o', 'json', 'connection', 'list', '--page-size', '2', '--page-token', page.json.next_page_token]);
    assert.equal(next.json.connections.length, 2);
    assert.deepEqual([...page.json.connections, ...next.json.connections].map((c) => c.id), all.json.connections.slice(0, 4).map((c) => c.id));
  });

  test('revision, dataplanes list and usage answer', T, async () => {
    const before1 = Number((await ok(cp, ['revision'])).stdout.trim());
    await addConnection(cp);
    const after1 = Number((await ok(cp, ['-o', 'json', 'revision'])).json.revision);
    assert.ok(after1 > before1, `${after1} > ${before1}`);

    const dps = await ok(cp, ['dataplanes', 'list']);
    assert.match(dps.stdout, /^current revision: \d+$/m);
    assert.match(dps.stdout, /^NODE_ID\s+ADDRESS\s+ACKED_REVISION/m);

    const usage = await ok(cp, ['usage', '--from', '-24h', '--by', 'key,model', '--granularity', 'hour']);
    assert.match(usage.stdout, /^BUCKET\s+VKEY\s+MODEL\s+REQUESTS\s+ERRORS\s+PROMPT_TOKENS\s+COMPLETION_TOKENS\s+COST_USD$/m);
    const json = await ok(cp, ['-o', 'json', 'usage', '--from', '2020-01-01T00:00:00Z', '--to', 'now']);
    assert.ok(Array.isArray(json.json.rows));
    await refused(cp, ['usage', '--from', 'yesterday'], 'INVALID_ARGUMENT');
  });

  describe('refusals', () => {
    test('a wrong or missing admin token is UNAUTHENTICATED and the token is not echoed', T, async () => {
      const wrong = 'adm-wrong-token-0123456789abcdef';
      const r = await refused(cp, ['connection', 'list'], 'UNAUTHENTICATED', { token: wrong });
      assert.ok(!r.stderr.includes(wrong));
      assert.equal(r.stdout, '');
      await refused(cp, ['vkey', 'list'], 'UNAUTHENTICATED', { token: '' });
    });

    test('the admin token and server also come from the environment', T, async () => {
      const r = await runCli('127.0.0.1:1', '', ['-o', 'json', 'connection', 'list'], { env: { LLMPROXY_SERVER: cp.grpcAddress, LLMPROXY_ADMIN_TOKEN: cp.adminToken } });
      // --server given on the command line wins over the environment: 127.0.0.1:1 is refused.
      assert.equal(r.code, EXIT.UNAVAILABLE);
      const { binDir } = await import('./lib/controlplane.mjs');
      const { execFileSync } = await import('node:child_process');
      const out = execFileSync(`${binDir()}/llm-proxy`, ['-o', 'json', 'revision'], { env: { ...process.env, LLMPROXY_SERVER: cp.grpcAddress, LLMPROXY_ADMIN_TOKEN: cp.adminToken }, timeout: 20000 });
      assert.match(JSON.parse(out).revision, /^\d+$/);
    });

    test('a duplicate connection name is ALREADY_EXISTS', T, async () => {
      const c = await addConnection(cp);
      const r = await refused(cp, ['connection', 'add', '--name', c.name, '--provider', 'openai', '--endpoint', 'https://api.openai.com/v1', '--api-key', 'sk-other-0123456789'], 'ALREADY_EXISTS');
      assert.ok(r.stderr.includes(c.name), r.stderr);
      assert.ok(!r.stderr.includes('sk-other-0123456789'));
    });

    test('an unknown id is NOT_FOUND', T, async () => {
      for (const [kind, id] of [['connection', 'cn_000000000000'], ['model', 'md_000000000000'], ['vkey', 'vk_000000000000'], ['assignment', 'as_000000000000']]) {
        await refused(cp, [kind, 'get', id], 'NOT_FOUND');
        await refused(cp, [kind, 'delete', id], 'NOT_FOUND');
      }
      await refused(cp, ['model', 'update', 'md_000000000000', '--weight', '1'], 'NOT_FOUND');
    });

    test('deleting a connection that models use needs --force', T, async () => {
      const c = await addConnection(cp);
      const m = await addModel(cp, c.id);
      await refused(cp, ['connection', 'delete', c.id], 'FAILED_PRECONDITION');
      await ok(cp, ['connection', 'get', c.id]);
      await ok(cp, ['connection', 'delete', c.id, '--force']);
      await refused(cp, ['model', 'get', m.id], 'NOT_FOUND');
    });

    test('deleting a model that assignments use needs --force', T, async () => {
      const c = await addConnection(cp);
      const m = await addModel(cp, c.id);
      const r = await ok(cp, ['-o', 'json', 'vkey', 'add', '--name', unique('k'), '--model-id', m.id]);
      await refused(cp, ['model', 'delete', m.id], 'FAILED_PRECONDITION');
      await ok(cp, ['model', 'delete', m.id, '--force']);
      await refused(cp, ['assignment', 'get', r.json.assignment.id], 'NOT_FOUND');
    });

    test('a stale --etag is ABORTED', T, async () => {
      const c = await addConnection(cp);
      const stale = c.etag;
      await ok(cp, ['connection', 'update', c.id, '--timeout-ms', '1000']);
      await refused(cp, ['connection', 'update', c.id, '--timeout-ms', '2000', '--etag', stale], 'ABORTED');
      await refused(cp, ['connection', 'delete', c.id, '--etag', stale], 'ABORTED');
      const got = await ok(cp, ['-o', 'json', 'connection', 'get', c.id]);
      assert.equal(got.json.timeout_ms, 1000);
    });

    test('a bad provider is INVALID_ARGUMENT naming the field', T, async () => {
      const r = await refused(cp, ['connection', 'add', '--name', unique('bad'), '--provider', 'openia', '--endpoint', 'https://x.test', '--api-key', 'sk-0123456789'], 'INVALID_ARGUMENT');
      assert.match(r.stderr, /provider/);
    });

    test('bad flags are refused before any call', T, async () => {
      let r = await cp.cli(['connection', 'add', '--name', 'x']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--provider is required/);
      r = await cp.cli(['connection', 'update', 'cn_000000000000']);
      assert.equal(r.code, EXIT.INVALID_ARGUMENT);
      assert.match(r.stderr, /^error: INVALID_ARGUMENT: nothing to update/);
      r = await cp.cli(['vkey', 'add', '--name', 'x', '--conn-id', 'cn_1', '--model-id', 'md_1']);
      assert.equal(r.code, 2, r.stderr);
      r = await cp.cli(['connection', 'add', '--name', 'x', '--provider', 'openai', '--endpoint', 'https://x', '--api-key', 'k', '--header', 'novalue']);
      assert.match(r.stderr, /^error: INVALID_ARGUMENT: --header wants KEY=VALUE/);
    });

    test('an unreachable server is UNAVAILABLE and names the address tried', T, async () => {
      const r = await runCli('127.0.0.1:1', cp.adminToken, ['connection', 'list']);
      assert.equal(r.code, EXIT.UNAVAILABLE, r.stderr);
      assert.match(r.stderr, /^error: UNAVAILABLE: cannot reach the control plane at 127\.0\.0\.1:1/);
    });
  });
});

describe('llm-proxy CLI against a PostgreSQL control plane', () => {
  let cp;
  before(async () => {
    cp = await startControlplane({ database: 'postgres' });
  });
  after(async () => {
    await cp?.stop();
  });

  test('a connection, a model and a virtual key survive a restart', T, async () => {
    const c = await addConnection(cp);
    const m = await addModel(cp, c.id, ['--input-price', '1.25']);
    const vkAdd = await ok(cp, ['-o', 'json', 'vkey', 'add', '--name', unique('persist'), '--model-id', m.id, '--tps', '3']);
    const vk = vkAdd.json.virtual_key;
    const revisionBefore = Number((await ok(cp, ['-o', 'json', 'revision'])).json.revision);

    await cp.restart();

    const c2 = (await ok(cp, ['-o', 'json', 'connection', 'get', c.id])).json;
    assert.equal(c2.name, c.name);
    assert.equal(c2.api_key_masked, c.api_key_masked, 'the sealed api key decrypts after the restart');
    assert.equal(c2.etag, c.etag);
    const m2 = (await ok(cp, ['-o', 'json', 'model', 'get', m.id])).json;
    assert.equal(m2.input_price_per_million, 1.25);
    assert.equal(m2.connection_id, c.id);
    const vk2 = (await ok(cp, ['-o', 'json', 'vkey', 'get', vk.id])).json;
    assert.equal(vk2.name, vk.name);
    assert.equal(vk2.key_prefix, vk.key_prefix);
    const as = (await ok(cp, ['-o', 'json', 'assignment', 'list', '--vkey-id', vk.id])).json.assignments;
    assert.equal(as.length, 1);
    assert.equal(as[0].limits.requests_per_second, 3);
    const list = await ok(cp, ['vkey', 'list']);
    assert.ok(list.stdout.includes(vk.id));
    const revisionAfter = Number((await ok(cp, ['-o', 'json', 'revision'])).json.revision);
    assert.equal(revisionAfter, revisionBefore, 'the config revision persists');

    // And the restarted server still takes writes.
    await ok(cp, ['connection', 'update', c.id, '--region', 'us-east-1']);
  });
});
