// End-to-end tests of usage reporting (issue 6, item 6): every finished request yields exactly one
// usage record stored by the control plane, none lost or counted twice even when the control plane
// is killed and restarted while traffic flows; refusals, errors and abandoned streams yield records
// too; the CLI's usage queries; a duplicated ReportUsage batch is stored once.
//
// The fake upstream's usage is deterministic (prompt_tokens = words of the prompt, completion_tokens
// = max_tokens), so the expected token sums are computed here.
//
// The data plane reaches the control plane through a TCP relay in this process, so a control plane
// restarted on new ports is reachable at the same address.
//
// Run: cd tests && LLMPROXY_BIN_DIR=<build>/bin [LLMPROXY_TEST_PG_URL_FILE=<file>] node --test usage.test.mjs
// (PostgreSQL when LLMPROXY_TEST_PG_URL_FILE is set, else SQLite.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

import { run, startControlplane } from './lib/controlplane.mjs';
import { startDataplane, cliJson, findId } from './lib/dataplane.mjs';
import { startFakeUpstream } from './lib/fake_upstream.mjs';

const OPENAI_KEY = 'sk-real-openai-usage-0123456789';
const USE_PG = Boolean(process.env.LLMPROXY_TEST_PG_URL_FILE);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROTO_DIR = path.join(process.env.LLMPROXY_SOURCE_DIR ?? path.join(HERE, '..'), 'proto');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const vkey = (tag) => `sk-lp-${tag}${'0'.repeat(48 - tag.length)}`;

// ---------------------------------------------------------------------------- helpers

/** A TCP relay on 127.0.0.1 to a target port that can change; cut() drops every connection. */
async function startRelay() {
  let target = null;
  const sockets = new Set();
  const track = (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); };
  const server = net.createServer((client) => {
    track(client);
    if (target === null) { client.destroy(); return; }
    const upstream = net.connect(target, '127.0.0.1');
    track(upstream);
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${server.address().port}`,
    setTarget(port) { target = port; },
    cut() { for (const s of sockets) s.destroy(); },
    close() { this.cut(); return new Promise((r) => server.close(r)); },
  };
}

/** Runs SQL on the control plane's database; resolves rows as arrays of strings. */
async function sql(databaseUrl, query) {
  const r = databaseUrl.startsWith('sqlite://')
    ? await run('sqlite3', ['-separator', '\t', databaseUrl.slice('sqlite://'.length), query])
    : await run('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-At', '-F', '\t', '-c', query]);
  if (r.code !== 0) throw new Error(`SQL failed (${query}): ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

async function until(fn, { timeoutMs = 10000, intervalMs = 100, what = 'condition' } = {}) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

async function call(base, pathName, { key, body, raw, headers = {}, stream = false } = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  if (body !== undefined || raw !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(base + pathName, {
    method: 'POST', headers: h, body: raw ?? JSON.stringify(body), signal: AbortSignal.timeout(60000),
  });
  if (stream && res.status === 200) {
    let text = '';
    for await (const chunk of res.body) text += Buffer.from(chunk).toString('utf8');
    return { status: res.status, headers: res.headers, text };
  }
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/** Grpc-js clients of UsageService. */
function usageClient(address) {
  const def = protoLoader.loadSync(path.join(PROTO_DIR, 'llmproxy/v1/usage_service.proto'), {
    includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true,
  });
  const { UsageService } = grpc.loadPackageDefinition(def).llmproxy.v1;
  return new UsageService(address, grpc.credentials.createInsecure());
}

function bearer(token) {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

// ---------------------------------------------------------------------------- the stack

let fake;
let cp;          // the control plane (replaced after the kill/restart)
let firstCp;     // the first one, whose temp dir holds the SQLite database
let relay;
let dp;
let spoolDir;
const ids = {};
const keys = {};
const cli = (args) => cliJson(cp, args);

async function addKey(name, extra = [], target = ['--conn-id', ids.conn]) {
  keys[name] = vkey(name);
  ids[name] = findId(await cli(['vkey', 'add', '--name', `usage-${name}`, '--key', keys[name], ...target, ...extra]), 'vk_');
}

// ---------------------------------------------------------------------------- tests

describe('usage records', () => {
  before(async () => {
    fake = await startFakeUpstream({ apiKeys: [OPENAI_KEY], record: 50 });
    cp = firstCp = await startControlplane({ database: USE_PG ? 'postgres' : 'sqlite' });
    relay = await startRelay();
    relay.setTarget(cp.grpcPort);
    ids.conn = findId(await cli(['connection', 'add', '--name', 'usage-openai', '--provider', 'openai', '--endpoint', fake.openaiEndpoint, '--api-key', OPENAI_KEY]), 'cn_');
    const model = async (name, remote, extra = []) => findId(await cli(['model', 'add', '--name', name, '--remote', remote, '--conn-id', ids.conn, ...extra]), 'md_');
    ids.chat = await model('chat', 'gpt-4o-mini', ['--input-price', '1', '--output-price', '2']);
    ids.err500 = await model('err500', 'fake-status500');
    ids.slow = await model('slow', 'fake-chunkdelay100');
    ids.priced = await model('priced', 'gpt-4o-priced', ['--input-price', '10000', '--output-price', '10000']);
    await addKey('bulk');
    await addKey('rec');
    await addKey('limited', ['--tps', '0.1', '--burst', '1']);
    await addKey('broke', ['--budget', '0.000001', '--budget-period', 'day'], ['--model-id', ids.priced]);
    await addKey('dupid');
    await addKey('ready');

    spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmproxy-usage-spool-'));
    dp = await startDataplane({
      controlplaneAddress: relay.address,
      dataplaneToken: cp.dataplaneToken,
      nodeId: 'dp-usage-e2e',
      extraArgs: ['--usage-spool-path', path.join(spoolDir, 'usage.spool'), '--usage-spool-max-bytes', String(64 * 1024 * 1024)],
    });
    await until(async () => {
      const r = await fetch(`${dp.url}/v1/models`, { headers: { authorization: `Bearer ${keys.ready}` } });
      await r.text();
      return r.status === 200;
    }, { timeoutMs: 15000, what: 'config reaches the data plane' });
  });

  after(async () => {
    if (dp) await dp.stop().catch(() => {});
    if (cp && cp !== firstCp) await cp.stop({ requireClean: false }).catch(() => {});
    if (firstCp) await firstCp.stop({ requireClean: false }).catch(() => {});
    if (relay) await relay.close().catch(() => {});
    if (fake) await fake.stop().catch(() => {});
    if (spoolDir) fs.rmSync(spoolDir, { recursive: true, force: true });
  });

  it('1,000 requests while the control plane is killed and restarted: exactly 1,000 records with the provider\'s token sums', async () => {
    const N = 1000;
    const CONCURRENCY = 20;
    const KILL_AT = 300;
    const RESTART_AT = 700;
    const shape = (i) => ({ words: 1 + (i % 7), maxTokens: 1 + (i % 5), stream: i % 4 === 3 });
    let expectedPrompt = 0;
    let expectedCompletion = 0;
    for (let i = 0; i < N; i++) {
      expectedPrompt += shape(i).words;
      expectedCompletion += shape(i).maxTokens;
    }

    const statuses = new Map();
    let next = 0;
    let restarted;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= N) return;
        if (i === KILL_AT) {
          cp.proc.kill('SIGKILL');
          await cp.exitPromise;
          relay.cut();
        }
        if (i === RESTART_AT) {
          // Same database and secrets, new ports; the relay points the data plane at it.
          restarted = await startControlplane({
            databaseUrl: firstCp.databaseUrl,
            adminToken: firstCp.adminToken,
            dataplaneToken: firstCp.dataplaneToken,
            encryptionKey: firstCp.encryptionKey,
            dir: firstCp.dir,
          });
          cp = restarted;
          relay.setTarget(cp.grpcPort);
        }
        const s = shape(i);
        const body = {
          model: 'chat',
          messages: [{ role: 'user', content: Array.from({ length: s.words }, (_, k) => `w${k}`).join(' ') }],
          max_tokens: s.maxTokens,
          ...(s.stream ? { stream: true } : {}),
        };
        const r = await call(dp.url, '/v1/chat/completions', { key: keys.bulk, body, stream: s.stream });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status !== 200) throw new Error(`request ${i}: ${r.status} ${r.text.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.deepEqual([...statuses], [[200, N]]);
    assert.ok(restarted, 'the control plane was restarted');

    // Every record arrives (spooled ones replayed), none twice.
    const count = async () => Number((await sql(cp.databaseUrl, `SELECT COUNT(*) FROM usage_records WHERE virtual_key_id = '${ids.bulk}'`))[0][0]);
    let last = -1;
    await until(async () => { last = await count(); return last >= N; }, { timeoutMs: 60000, intervalMs: 500, what: `${N} usage records stored` })
      .catch((e) => { throw new Error(`${e.message} (stored ${last})\n--- data plane log ---\n${dp.log().split('\n').filter((l) => !l.includes('"msg":"request"')).slice(-30).join('\n')}`); });
    await sleep(2000);  // nothing more may arrive
    const [[n, prompt, completion, ok]] = await sql(cp.databaseUrl,
      `SELECT COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(CASE WHEN status = 'ok' THEN 1 ELSE 0 END) FROM usage_records WHERE virtual_key_id = '${ids.bulk}'`);
    assert.equal(Number(n), N, 'records stored');
    assert.equal(Number(ok), N, 'records with status ok');
    assert.equal(Number(prompt), expectedPrompt, 'sum of prompt tokens');
    assert.equal(Number(completion), expectedCompletion, 'sum of completion tokens');
    const [[streamed]] = await sql(cp.databaseUrl, `SELECT COUNT(*) FROM usage_records WHERE virtual_key_id = '${ids.bulk}' AND streamed <> 0`);
    assert.equal(Number(streamed), N / 4, 'streamed flag');

    // The data plane's usage counters saw the outage.
    const metrics = await dp.metrics();
    const counter = (name) => Number(new RegExp(`^${name}(?:\\{\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    assert.ok(counter('llmproxy_usage_records_sent_total') >= N, `sent_total ${counter('llmproxy_usage_records_sent_total')}`);
    assert.ok(counter('llmproxy_usage_records_spooled_total') >= 1, `spooled_total ${counter('llmproxy_usage_records_spooled_total')}: the outage went unnoticed`);
    assert.ok(counter('llmproxy_usage_records_replayed_total') >= 1, `replayed_total ${counter('llmproxy_usage_records_replayed_total')}`);
    assert.equal(metrics.match(/^llmproxy_usage_records_dropped_total\{[^}]*\} (\S+)$/gm)?.reduce((a, l) => a + Number(l.split(' ').at(-1)), 0) ?? 0, 0, 'no record dropped');

    // And the CLI reports the same totals.
    const out = await cli(['usage', '--vkey-id', ids.bulk, '--from', '-1h']);
    const row = out.rows?.[0] ?? {};
    assert.deepEqual(
      { requests: Number(row.requests), prompt: Number(row.prompt_tokens), completion: Number(row.completion_tokens) },
      { requests: N, prompt: expectedPrompt, completion: expectedCompletion });
    // Cost from the model's prices ($1 / $2 per million tokens).
    assert.ok(Math.abs(Number(row.cost_usd) - (expectedPrompt * 1 + expectedCompletion * 2) / 1e6) < 1e-9, `cost ${row.cost_usd}`);
  });

  it('refusals, errors and an abandoned stream yield records with their status', async () => {
    const expected = [];  // [request id, status, http status, what]
    const note = (r, status, http, what) => {
      assert.equal(r.status, http, `${what}: HTTP ${r.status} ${r.text?.slice(0, 200)}`);
      const id = r.headers.get('x-request-id');
      assert.ok(id, `${what}: no x-request-id`);
      expected.push([id, status, http, what]);
    };
    const chatBody = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'one two three' }], max_tokens: 2, ...extra });

    note(await call(dp.url, '/v1/chat/completions', { key: keys.rec, body: chatBody('chat') }), 'ok', 200, 'success');
    note(await call(dp.url, '/v1/chat/completions', { key: keys.rec, body: chatBody('err500') }), 'upstream_error', 500, 'upstream 500');
    note(await call(dp.url, '/v1/chat/completions', { key: keys.rec, body: chatBody('no-such-model') }), 'client_error', 404, 'unknown model');
    note(await call(dp.url, '/v1/chat/completions', { key: keys.rec, raw: '{"model": "chat", "messages": [' }), 'client_error', 400, 'malformed JSON');
    note(await call(dp.url, '/v1/chat/completions', { key: vkey('nosuchkey'), body: chatBody('chat') }), 'client_error', 401, 'unknown key');
    note(await call(dp.url, '/v1/chat/completions', { key: keys.limited, body: chatBody('chat') }), 'ok', 200, 'first of burst 1');
    note(await call(dp.url, '/v1/chat/completions', { key: keys.limited, body: chatBody('chat') }), 'rate_limited', 429, 'rate limited');
    note(await call(dp.url, '/v1/chat/completions', { key: keys.broke, body: chatBody('priced') }), 'budget_exceeded', 429, 'over budget');

    // A stream abandoned after its first content chunk (20 tokens, 100 ms apart).
    const ac = new AbortController();
    const res = await fetch(`${dp.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.rec}`, 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('slow', { max_tokens: 20, stream: true })),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const abandonedId = res.headers.get('x-request-id');
    let seen = '';
    try {
      for await (const chunk of res.body) {
        seen += Buffer.from(chunk).toString('utf8');
        if (/tok1/.test(seen)) { ac.abort(); break; }
      }
    } catch { /* aborted */ }
    const list = [...expected.map((e) => e[0]), abandonedId];
    const where = `request_id IN (${list.map((id) => `'${id}'`).join(',')})`;
    let rows = [];
    await until(async () => {
      rows = await sql(cp.databaseUrl, `SELECT request_id, status, http_status, virtual_key_id, prompt_tokens, completion_tokens FROM usage_records WHERE ${where}`);
      return rows.length === list.length;
    }, { timeoutMs: 30000, intervalMs: 250, what: `${list.length} records` }).catch((e) => {
      const got = new Set(rows.map((r) => r[0]));
      throw new Error(`${e.message}; missing: ${expected.filter((x) => !got.has(x[0])).map((x) => x[3]).concat(got.has(abandonedId) ? [] : ['abandoned stream']).join(', ')}`);
    });
    const byId = new Map(rows.map((r) => [r[0], r]));
    for (const [id, status, http, what] of expected) {
      const row = byId.get(id);
      assert.deepEqual({ status: row[1], http: Number(row[2]) }, { status, http }, `record of ${what}`);
    }
    assert.equal(byId.get(expected[0][0])[3], ids.rec, 'virtual key id in the record');
    assert.deepEqual([Number(byId.get(expected[0][0])[4]), Number(byId.get(expected[0][0])[5])], [3, 2], 'tokens of the success');
    const ab = byId.get(abandonedId);
    assert.equal(ab[1], 'client_abandoned', 'record of the abandoned stream');
    // The provider's usage chunk never came: the prompt may be charged at the estimate.
    assert.ok(Number(ab[4]) >= 1, `prompt tokens of the abandoned stream: ${ab[4]}`);
    assert.ok(Number(ab[5]) >= 2, `the abandoned stream is charged for what the provider produced (${ab[5]} completion tokens)`);
  });

  it('a client-chosen x-request-id does not merge the records of different requests', async () => {
    const body = { model: 'chat', messages: [{ role: 'user', content: 'same id' }], max_tokens: 1 };
    for (let i = 0; i < 3; i++) {
      const r = await call(dp.url, '/v1/chat/completions', { key: keys.dupid, body, headers: { 'x-request-id': 'client-chosen-id-1' } });
      assert.equal(r.status, 200, r.text);
    }
    let stored = 0;
    await until(async () => {
      stored = Number((await sql(cp.databaseUrl, `SELECT COUNT(*) FROM usage_records WHERE virtual_key_id = '${ids.dupid}'`))[0][0]);
      return stored >= 3;
    }, { timeoutMs: 15000, intervalMs: 250, what: 'three requests with the same client x-request-id give three usage records' })
      .catch((e) => { throw new Error(`${e.message}: ${stored} stored (a client can skip billing by reusing an x-request-id)`); });
  });

  it('queries usage by key, model and day with the CLI', async () => {
    const byKeyModel = await cli(['usage', '--by', 'key,model', '--from', '-1h']);
    const rows = byKeyModel.rows ?? [];
    const bulk = rows.find((r) => r.virtual_key_id === ids.bulk && r.model === 'chat');
    assert.ok(bulk, `no row for the bulk key and chat: ${JSON.stringify(rows)}`);
    assert.equal(Number(bulk.requests), 1000);
    const rec = rows.filter((r) => r.virtual_key_id === ids.rec);
    for (const m of ['chat', 'err500', 'no-such-model', 'slow']) {
      assert.ok(rec.some((r) => r.model === m), `no row for key rec and model ${m}: ${JSON.stringify(rec)}`);
    }
    const recRequests = rec.reduce((a, r) => a + Number(r.requests ?? 0), 0);
    const recErrors = rec.reduce((a, r) => a + Number(r.errors ?? 0), 0);
    assert.equal(recRequests, 5, 'success, upstream error, unknown model, malformed JSON, abandoned stream');
    assert.equal(recErrors, 4, 'upstream error, unknown model, malformed JSON, abandoned stream');

    const byModel = await cli(['usage', '--by', 'model', '--model', 'chat', '--from', '-1h']);
    assert.ok((byModel.rows ?? []).every((r) => r.model === 'chat'));

    const daily = await cli(['usage', '--granularity', 'day', '--vkey-id', ids.bulk, '--from', '-1h']);
    assert.ok((daily.rows ?? []).length >= 1 && daily.rows.length <= 2, JSON.stringify(daily));
    const total = daily.rows.reduce((a, r) => a + Number(r.requests), 0);
    assert.equal(total, 1000);
    for (const r of daily.rows) {
      const start = new Date(r.bucket_start);
      assert.ok(!Number.isNaN(start.getTime()), `bucket_start ${r.bucket_start}`);
      assert.equal(start.getUTCHours() * 3600 + start.getUTCMinutes() * 60 + start.getUTCSeconds(), 0, `day bucket starts at 00:00 UTC: ${r.bucket_start}`);
    }
    const table = await cp.cli(['usage', '--by', 'key', '--from', '-1h']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(ids.bulk));
  });
});

describe('ReportUsage', () => {
  let ownCp;
  after(async () => { if (ownCp) await ownCp.stop({ requireClean: false }).catch(() => {}); });

  it('stores a duplicated batch once', async () => {
    ownCp = await startControlplane({ database: USE_PG ? 'postgres' : 'sqlite' });
    const client = usageClient(ownCp.grpcAddress);
    const now = Math.floor(Date.now() / 1000);
    const records = Array.from({ length: 3 }, (_, i) => ({
      request_id: `dup-batch-${i}`, virtual_key_id: 'vk_000000000001', model: 'm', remote_model: 'm-remote',
      connection_id: 'cn_000000000001', dataplane_id: 'grpc-js', prompt_tokens: 10 + i, completion_tokens: 5,
      cost_usd: 0.5, http_status: 200, status: 'ok', latency_ms: 12, ttft_ms: 3,
      start_time: { seconds: now - 10, nanos: 0 }, streamed: false, endpoint: '/v1/chat/completions',
    }));
    const acks = [];
    const stream = client.ReportUsage(bearer(ownCp.dataplaneToken));
    const ended = new Promise((resolve, reject) => { stream.on('end', resolve); stream.on('error', reject); });
    const waitAcks = (n) => until(() => acks.length >= n, { timeoutMs: 10000, intervalMs: 20, what: `${n} acks` });
    stream.on('data', (ack) => acks.push(ack));
    stream.write({ batch_id: 1, dataplane_id: 'grpc-js', records });
    await waitAcks(1);
    stream.write({ batch_id: 2, dataplane_id: 'grpc-js', records });
    await waitAcks(2);
    stream.end();
    await ended;
    assert.deepEqual(acks.map((a) => [Number(a.batch_id), a.accepted, a.duplicates]), [[1, 3, 0], [2, 0, 3]]);

    const [[n, prompt]] = await sql(ownCp.databaseUrl, "SELECT COUNT(*), SUM(prompt_tokens) FROM usage_records WHERE request_id LIKE 'dup-batch-%'");
    assert.deepEqual([Number(n), Number(prompt)], [3, 33]);
    const resp = await new Promise((resolve, reject) => client.QueryUsage({ group_by: ['virtual_key'] }, bearer(ownCp.adminToken),
      (err, r) => (err ? reject(err) : resolve(r))));
    assert.equal(resp.rows.length, 1);
    assert.equal(Number(resp.rows[0].requests), 3);
    assert.ok(Math.abs(resp.rows[0].cost_usd - 1.5) < 1e-9);
    client.close();
  });
});
