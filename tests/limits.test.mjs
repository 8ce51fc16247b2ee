// End-to-end tests of limits (issue 5, item 6): the real control plane and data plane(s), limits
// set with the admin CLI `llm-proxy`, and the fake upstream (tests/fake_upstream/server.mjs), whose
// usage is deterministic: prompt_tokens = words of the prompt, completion_tokens = max_tokens
// (16 when absent).
//
// Covers every refusal path: requests/s (key-wide and per assignment), tokens/min (bucket used up by
// real usage; a request that can never fit), max_concurrent, budget (across two data planes); plus
// the 429 shape and headers, exact settlement of streamed and non-streamed usage, key-wide and
// assignment limits together, and limit changes that keep unchanged buckets.
//
// Run: cd tests && LLMPROXY_BIN_DIR=<build>/bin node --test limits.test.mjs
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { run } from './lib/controlplane.mjs';
import { startStack, findId } from './lib/dataplane.mjs';

const OPENAI_KEY = 'sk-real-openai-limits-0123456789';
const MASTER_KEY = 'sk-master-limits-000000000000000';
const ids = {};
const keys = {};
let S;    // the stack (control plane, fake upstream, data plane 1)
let dp2;  // a second data plane on the same control plane

// ---------------------------------------------------------------------------- helpers

/** A virtual key in the generated format ("sk-lp-" + 48 alphanumerics). */
function vkey(tag) {
  return `sk-lp-${tag}${'0'.repeat(48 - tag.length)}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function call(base, path, { key, body, method = 'POST', headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(base + path, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

const chat = (key, body, base = S.dp.url) => call(base, '/v1/chat/completions', { key, body });

/** Reads an SSE response to its end; returns the data strings. */
async function readSse(res) {
  const out = [];
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
      const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data !== '') out.push(data);
    }
  }
  return out;
}

/** A streamed chat request read to the end: {status, headers, events (data strings), json (on errors)}. */
async function streamChat(key, body, base = S.dp.url) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
    signal: AbortSignal.timeout(60000),
  });
  if (res.status !== 200) {
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json, events: [] };
  }
  return { status: 200, headers: res.headers, events: await readSse(res) };
}

/** Polls fn() until it returns truthy; resolves [value, elapsed ms]. */
async function until(fn, { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {}) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return [v, Date.now() - t0];
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

const msg = (text, extra = {}) => ({ model: 'chat', messages: [{ role: 'user', content: text }], ...extra });
const words = (n, w = 'w') => Array.from({ length: n }, () => w).join(' ');

/** OpenAI's error shape with the given code, plus the limit headers every 429 must carry. */
function assertRefusal(r, code, what, { tokensHeaders = false, requestsHeaders = false } = {}) {
  assert.equal(r.status, 429, `${what}: expected 429, got ${r.status}: ${r.text?.slice(0, 300)}`);
  assert.ok(r.json && typeof r.json.error === 'object', `${what}: body is not {"error":{…}}: ${r.text}`);
  const e = r.json.error;
  assert.equal(typeof e.message, 'string', `${what}: error.message`);
  assert.ok(e.message.length > 0, `${what}: empty error.message`);
  assert.equal(typeof e.type, 'string', `${what}: error.type`);
  assert.ok('param' in e, `${what}: error.param missing`);
  assert.equal(e.code, code, `${what}: error.code`);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/, `${what}: content-type`);
  const ra = r.headers.get('retry-after');
  assert.match(ra ?? '', /^[1-9]\d*$/, `${what}: Retry-After must be whole seconds >= 1, got ${ra}`);
  const ms = Number(r.headers.get('retry-after-ms'));
  assert.ok(Number.isFinite(ms) && ms > 0, `${what}: retry-after-ms must be > 0, got ${r.headers.get('retry-after-ms')}`);
  assert.ok(Number(ra) >= Math.ceil(ms / 1000) - 0 && Number(ra) <= Math.ceil(ms / 1000) + 1,
    `${what}: Retry-After ${ra} does not match retry-after-ms ${ms}`);
  if (requestsHeaders) assertLimitHeaders(r, 'requests', what);
  if (tokensHeaders) assertLimitHeaders(r, 'tokens', what);
}

// OpenAI's reset format: "1s", "6m0s", "20ms", "1.5s", "1h2m3s".
const RESET_RE = /^(?:\d+(?:\.\d+)?ms|(?:\d+h)?(?:\d+m)?(?:\d+(?:\.\d+)?s)?)$/;

function assertLimitHeaders(r, dim, what) {
  const limit = r.headers.get(`x-ratelimit-limit-${dim}`);
  const remaining = r.headers.get(`x-ratelimit-remaining-${dim}`);
  const reset = r.headers.get(`x-ratelimit-reset-${dim}`);
  assert.match(limit ?? '', /^\d+$/, `${what}: x-ratelimit-limit-${dim} = ${limit}`);
  assert.match(remaining ?? '', /^\d+$/, `${what}: x-ratelimit-remaining-${dim} = ${remaining}`);
  assert.ok(reset && RESET_RE.test(reset), `${what}: x-ratelimit-reset-${dim} = ${reset}`);
  return { limit: Number(limit), remaining: Number(remaining), reset };
}

/** Usage records stored by the control plane (SQLite), by request id. */
async function storedRecords(requestIds) {
  const list = requestIds.map((id) => `'${id.replace(/'/g, "''")}'`).join(',');
  const r = await run('sqlite3', ['-json', S.cp.sqlitePath,
    `SELECT request_id, prompt_tokens, completion_tokens, cost_usd, status, http_status, streamed FROM usage_records WHERE request_id IN (${list})`]);
  if (r.code !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  const rows = r.stdout.trim() ? JSON.parse(r.stdout) : [];
  return new Map(rows.map((row) => [row.request_id, row]));
}

async function waitForRecords(requestIds, timeoutMs = 20000) {
  const [m] = await until(async () => {
    const got = await storedRecords(requestIds);
    return got.size === requestIds.length ? got : null;
  }, { timeoutMs, intervalMs: 200, what: `${requestIds.length} usage records stored` }).catch(async (e) => {
    const got = await storedRecords(requestIds);
    throw new Error(`${e.message}; stored ${got.size}: missing ${requestIds.filter((id) => !got.has(id)).join(',')}`);
  });
  return m;
}

async function fakeStats(method = 'GET') {
  const res = await fetch(`${S.fake.url}/__fake/stats`, { method });
  return res.json();
}

/** Waits until the data plane applied the control plane's current revision (its /metrics gauge). */
async function waitForRevision(dp) {
  const rev = Number((await S.cli(['revision'])).revision);
  await until(async () => {
    const m = /^llmproxy_config_revision(?:\{\})? (\S+)$/m.exec(await dp.metrics());
    return m && Number(m[1]) >= rev;
  }, { timeoutMs: 10000, what: `data plane applies revision ${rev} (llmproxy_config_revision)` });
}

/** Creates a virtual key: key-wide limits (array of flags), then assignments [{conn|model, limits}]. */
async function addKey(name, keyWide, assignments) {
  keys[name] = vkey(name);
  const id = findId(await S.cli(['vkey', 'add', '--name', `lim-${name}`, '--key', keys[name], ...keyWide]), 'vk_');
  ids[`key_${name}`] = id;
  for (const a of assignments) {
    const target = a.model ? ['--model-id', ids[a.model]] : ['--conn-id', ids.conn];
    await S.cli(['assignment', 'add', '--vkey-id', id, ...target, ...(a.limits ?? [])]);
  }
  return id;
}

// ---------------------------------------------------------------------------- setup

before(async () => {
  S = await startStack({ fake: { apiKeys: [OPENAI_KEY] }, dataplane: { masterKey: MASTER_KEY } });
  const cli = S.cli;
  ids.conn = findId(await cli(['connection', 'add', '--name', 'lim-openai', '--provider', 'openai', '--endpoint', S.fake.openaiEndpoint, '--api-key', OPENAI_KEY]), 'cn_');
  const model = async (name, remote, extra = []) => findId(await cli(['model', 'add', '--name', name, '--remote', remote, '--conn-id', ids.conn, ...extra]), 'md_');
  ids.chat = await model('chat', 'gpt-4o-mini');
  ids.chat2 = await model('chat2', 'gpt-4o-mini-2');
  ids.slow = await model('slow', 'fake-chunkdelay40');
  // $0.01 per token in and out.
  ids.priced = await model('priced', 'gpt-4o-priced', ['--input-price', '10000', '--output-price', '10000']);

  // Key-wide requests limit: 2/s, burst 2.
  await addKey('rps', ['--tps', '2', '--burst', '2'], [{ conn: true }]);
  // Tokens on the assignment: 600/min (10/s), burst 150.
  await addKey('tok', [], [{ conn: true, limits: ['--tokens', '600', '--token-burst', '150'] }]);
  // Tokens that (practically) never refill, for exact settlement checks.
  await addKey('exact', ['--tokens', '1', '--token-burst', '1000000'], [{ conn: true }]);
  // Concurrency on the assignment.
  await addKey('conc', [], [{ conn: true, limits: ['--max-concurrent', '5'] }]);
  // Key-wide budget of $1 (total), priced model only.
  await addKey('budget', ['--budget', '1', '--budget-period', 'total'], [{ model: 'priced' }]);
  // Key-wide burst 4; assignments: chat burst 3, chat2 burst 10 (refill 1 per 10 s).
  await addKey('both', ['--tps', '0.1', '--burst', '4'], [
    { model: 'chat', limits: ['--tps', '0.1', '--burst', '3'] },
    { model: 'chat2', limits: ['--tps', '0.1', '--burst', '10'] },
  ]);
  // For limit updates.
  await addKey('upd', ['--tps', '0.1', '--burst', '3', '--tokens', '600000', '--token-burst', '100000'], [{ conn: true }]);
  // Sentinel: created last, so once it works every key above is in the data plane's config.
  await addKey('ready', [], [{ conn: true }]);

  dp2 = await S.startExtraDataplane({ masterKey: MASTER_KEY });
  for (const dp of [S.dp, dp2]) {
    await until(async () => (await call(dp.url, '/v1/models', { key: keys.ready, method: 'GET' })).status === 200,
      { timeoutMs: 15000, what: 'config reaches the data plane' });
    await waitForRevision(dp);
  }
  // Let every request bucket be full whatever the probes did.
  await sleep(1100);
});

after(async () => {
  if (S) await S.stop();
});

// ---------------------------------------------------------------------------- tests

describe('requests per second', () => {
  it('2/s with burst 2: a burst of 10 concurrent requests lets exactly 2 through; the 429s say when to retry', async () => {
    await S.fake.clearRequests();
    const results = await Promise.all(Array.from({ length: 10 }, () => chat(keys.rps, msg('hello there', { max_tokens: 1 }))));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    assert.equal(ok.length, 2, `statuses: ${results.map((r) => r.status).join(',')}`);
    assert.equal((await S.fake.requestsTo('/chat/completions')).length, 2, 'the fake saw only the admitted requests');
    for (const r of refused) {
      assertRefusal(r, 'rate_limit_exceeded', 'requests refusal', { requestsHeaders: true });
      assert.equal(r.headers.get('retry-after'), '1', 'one request token refills in 0.5 s: Retry-After 1');
      const ms = Number(r.headers.get('retry-after-ms'));
      assert.ok(ms > 0 && ms <= 1000, `retry-after-ms ${ms} not in (0, 1000]`);
      const h = assertLimitHeaders(r, 'requests', 'requests refusal');
      assert.equal(h.limit, 2);
      assert.equal(h.remaining, 0);
    }
    for (const r of ok) {
      const h = assertLimitHeaders(r, 'requests', 'admitted request');
      assert.equal(h.limit, 2);
      assert.ok(h.remaining <= 1, `remaining-requests ${h.remaining}`);
    }
    // After the advertised wait, the key is admitted again.
    await sleep(Math.max(...refused.map((r) => Number(r.headers.get('retry-after-ms')))) + 50);
    const again = await chat(keys.rps, msg('hello again', { max_tokens: 1 }));
    assert.equal(again.status, 200, again.text);
  });
});

describe('tokens per minute', () => {
  // "w w w … w": 2 bytes per word, so the body-size estimate (bytes/4) is about half the real
  // prompt_tokens. 100 words + max_tokens 1: estimate ~70, real usage 101.
  const body = msg(words(100), { max_tokens: 1 });

  it('refuses up front a request whose reservation can never fit the bucket', async () => {
    // Runs first, on a full bucket (150).
    await S.fake.clearRequests();
    const tooBig = await chat(keys.tok, msg('short prompt', { max_tokens: 500 }));
    assert.equal(tooBig.status, 429, tooBig.text.slice(0, 300));
    assert.equal(tooBig.json?.error?.code, 'rate_limit_exceeded');
    // Without max_tokens the reservation uses the default (1024): can never fit either.
    const noMax = await chat(keys.tok, msg('short prompt'));
    assert.equal(noMax.status, 429, `no max_tokens reserves --default-max-tokens (1024) > burst 150: ${noMax.text.slice(0, 300)}`);
    assert.equal(noMax.json?.error?.code, 'rate_limit_exceeded');
    assert.equal((await S.fake.requestsTo('/chat/completions')).length, 0, 'nothing reached the provider');
    // A refusal leaves no trace: a small request still fits.
    const small = await chat(keys.tok, msg('short prompt', { max_tokens: 2 }));
    assert.equal(small.status, 200, small.text);
  });

  it('refuses once the real usage (not the estimate) has used the bucket up, and admits again after refill', async () => {
    const first = await chat(keys.tok, body);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.usage.prompt_tokens, 100);
    assert.equal(first.json.usage.total_tokens, 101);
    const h = assertLimitHeaders(first, 'tokens', 'admitted request');
    assert.equal(h.limit, 150);
    // The estimate was reserved: ~150 - 70 left as of admission; the estimate is well under 101.
    assert.ok(h.remaining > 150 - 101, `remaining-tokens ${h.remaining}: the estimate should be below the real usage (101)`);

    // Settled to 101: ~49 left, the next estimate (~70) does not fit. Counting only the estimate
    // would leave ~80 and admit it.
    const second = await chat(keys.tok, body);
    assertRefusal(second, 'rate_limit_exceeded', 'tokens refusal', { tokensHeaders: true });
    const t = assertLimitHeaders(second, 'tokens', 'tokens refusal');
    assert.equal(t.limit, 150);
    assert.ok(t.remaining < 60, `remaining-tokens ${t.remaining}: real usage (101) not charged`);
    const waitMs = Number(second.headers.get('retry-after-ms'));
    assert.ok(waitMs > 0 && waitMs <= 3500, `retry-after-ms ${waitMs}: ~2 s of refill at 10 tokens/s expected`);

    await sleep(waitMs + 100);
    const third = await chat(keys.tok, body);
    assert.equal(third.status, 200, `admitted again after refill: ${third.text}`);
  });
});

describe('token accounting settles to the provider\'s usage', () => {
  // The "exact" key: burst 1,000,000 and 1 token/min refill, so remaining-tokens moves only by what is
  // charged (the refill stays below one token for the whole test). Two identical requests reserve the
  // same estimate, so remaining(first) - remaining(second) is exactly what the first was settled to.
  const remaining = (r) => assertLimitHeaders(r, 'tokens', 'exact key').remaining;

  it('non-streamed and streamed (with and without include_usage) usage is charged exactly', async () => {
    const requestIds = [];
    const expected = new Map();
    const note = (r, p, c) => { const id = r.headers.get('x-request-id'); requestIds.push(id); expected.set(id, { p, c }); };

    // Non-streamed: 5 words + 3.
    const nBody = msg('one two three four five', { max_tokens: 3 });
    const n1 = await chat(keys.exact, nBody);
    const n2 = await chat(keys.exact, nBody);
    assert.equal(n1.status, 200, n1.text);
    assert.equal(n2.status, 200, n2.text);
    assert.equal(n1.json.usage.total_tokens, 8);
    assert.equal(remaining(n1) - remaining(n2), 8, 'non-streamed request charged its real usage (8)');
    note(n1, 5, 3); note(n2, 5, 3);

    // Streamed, client did not ask for usage: 7 words + 4.
    await S.fake.clearRequests();
    const sBody = msg('a b c d e f g', { max_tokens: 4 });
    const s1 = await streamChat(keys.exact, sBody);
    const s2 = await streamChat(keys.exact, sBody);
    assert.equal(s1.status, 200, s1.text);
    assert.equal(s2.status, 200, s2.text);
    assert.equal(remaining(s1) - remaining(s2), 11, 'stream charged its real usage (11)');
    note(s1, 7, 4); note(s2, 7, 4);
    const upstream = await S.fake.requestsTo('/chat/completions');
    assert.equal(upstream[0]?.json?.stream_options?.include_usage, true, 'the data plane asks the provider for usage');
    // The client sees what the provider would have sent it: no usage chunk.
    assert.equal(s1.events.at(-1), '[DONE]');
    const chunks = s1.events.slice(0, -1).map((d) => JSON.parse(d));
    assert.equal(chunks.length, 1 + 4 + 1, `role + 4 content + finish chunks, got ${chunks.length}`);
    for (const c of chunks) {
      assert.ok(c.usage === undefined || c.usage === null, `usage leaked to a client that did not ask: ${JSON.stringify(c)}`);
      assert.ok(c.choices.length > 0, `a chunk without choices (the usage chunk) reached the client: ${JSON.stringify(c)}`);
    }
    assert.equal(chunks.map((c) => c.choices[0].delta?.content ?? '').join(''), 'tok0 tok1 tok2 tok3');

    // Streamed, client asked for usage: 3 words + 2; the usage chunk reaches it unchanged.
    const uBody = msg('x y z', { max_tokens: 2, stream_options: { include_usage: true } });
    const u1 = await streamChat(keys.exact, uBody);
    const u2 = await streamChat(keys.exact, uBody);
    assert.equal(u1.status, 200, u1.text);
    assert.equal(remaining(u1) - remaining(u2), 5, 'stream with include_usage charged its real usage (5)');
    note(u1, 3, 2); note(u2, 3, 2);
    const last = JSON.parse(u1.events.at(-2));
    assert.deepEqual({ p: last.usage?.prompt_tokens, c: last.usage?.completion_tokens }, { p: 3, c: 2 }, 'usage chunk kept for a client that asked');

    // The stored usage records carry the provider's numbers.
    const stored = await waitForRecords(requestIds);
    for (const [id, e] of expected) {
      const row = stored.get(id);
      assert.deepEqual({ p: Number(row.prompt_tokens), c: Number(row.completion_tokens), status: row.status },
        { p: e.p, c: e.c, status: 'ok' }, `usage record ${id}`);
    }
  });
});

describe('max_concurrent', () => {
  it('holds under 50 parallel streams; the others get 429', async () => {
    await fakeStats('DELETE');
    const body = msg('count slowly', { max_tokens: 10 });  // ~12 chunks, 40 ms apart
    const results = await Promise.all(Array.from({ length: 50 }, async () => {
      const r = await streamChat(keys.conc, body);
      return r;
    }));
    const stats = await fakeStats();
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    assert.ok(stats.max_in_flight <= 5, `the provider saw ${stats.max_in_flight} requests of the key at once (limit 5)`);
    assert.ok(ok.length >= 5, `only ${ok.length} streams admitted`);
    assert.ok(refused.length >= 1, 'no stream was refused');
    for (const r of ok) {
      assert.equal(r.events.at(-1), '[DONE]', 'admitted streams complete');
    }
    for (const r of refused) assertRefusal(r, 'rate_limit_exceeded', 'concurrency refusal');
    // Slots are released: a stream after the burst is admitted.
    const later = await streamChat(keys.conc, body);
    assert.equal(later.status, 200, later.text);
  });
});

describe('key-wide and assignment limits', () => {
  it('both apply; the stricter wins', async () => {
    // chat: the assignment's burst 3 is stricter than the key's 4.
    const onChat = [];
    for (let i = 0; i < 5; i++) onChat.push(await chat(keys.both, msg('hi', { model: 'chat', max_tokens: 1 })));
    assert.deepEqual(onChat.map((r) => r.status), [200, 200, 200, 429, 429]);
    assertRefusal(onChat[3], 'rate_limit_exceeded', 'assignment refusal', { requestsHeaders: true });
    assert.equal(onChat[3].headers.get('x-ratelimit-limit-requests'), '3', 'reports the scope with the least left');
    // chat2: its assignment allows 10, but the key has 1 left (refusals took nothing).
    const onChat2 = [];
    for (let i = 0; i < 3; i++) onChat2.push(await chat(keys.both, msg('hi', { model: 'chat2', max_tokens: 1 })));
    assert.deepEqual(onChat2.map((r) => r.status), [200, 429, 429]);
    assertRefusal(onChat2[1], 'rate_limit_exceeded', 'key-wide refusal', { requestsHeaders: true });
    assert.equal(onChat2[1].headers.get('x-ratelimit-limit-requests'), '4', 'the key-wide scope refused');
  });
});

describe('limit changes', () => {
  it('take effect within a second and keep the state of unchanged buckets', async () => {
    const body = msg('hi', { max_tokens: 1 });
    const first = [];
    for (let i = 0; i < 4; i++) first.push(await chat(keys.upd, body));
    assert.deepEqual(first.map((r) => r.status), [200, 200, 200, 429]);
    assert.equal(first[0].headers.get('x-ratelimit-limit-tokens'), '100000');

    // Change only the token burst: the (empty) request bucket must not be refilled by the change.
    await S.cli(['vkey', 'update', ids.key_upd, '--token-burst', '200000']);
    await waitForRevision(S.dp);
    const probe = await chat(keys.upd, body);
    assertRefusal(probe, 'rate_limit_exceeded', 'request bucket kept across an unrelated change', { requestsHeaders: true });
    const limitTokens = probe.headers.get('x-ratelimit-limit-tokens');
    if (limitTokens !== null) assert.equal(limitTokens, '200000', 'the new token burst is in force');

    // Change the request rate: admitted again within a second of the CLI returning.
    await S.cli(['vkey', 'update', ids.key_upd, '--tps', '100']);
    const [ok, ms] = await until(async () => {
      const r = await chat(keys.upd, body);
      return r.status === 200 ? r : null;
    }, { timeoutMs: 5000, intervalMs: 50, what: 'the new request rate applies' });
    assert.ok(ms < 2000, `took ${ms} ms`);  // the target is < 1 s; generous bound against CI noise
    assert.equal(ok.headers.get('x-ratelimit-limit-tokens'), '200000');
  });
});

describe('budget', () => {
  it('stops a key across two data planes once its spend is reported', async () => {
    // priced: $0.01/token; "hi there" + max_tokens 8 costs exactly $0.10; budget $1 (total).
    const body = { model: 'priced', messages: [{ role: 'user', content: 'hi there' }], max_tokens: 8 };
    let okOnDp1 = 0;
    let consecutiveRefusals = 0;
    let firstRefusal;
    const deadline = Date.now() + 40000;
    // Data plane 1 alone spends until it is refused for 3 s in a row (budget pushes every ~1 s).
    while (consecutiveRefusals < 30) {
      assert.ok(Date.now() < deadline, `data plane 1 was never refused for good (${okOnDp1} admitted)`);
      const r = await chat(keys.budget, body, S.dp.url);
      if (r.status === 200) {
        okOnDp1 += 1;
        consecutiveRefusals = 0;
        assert.equal(r.json.usage.total_tokens, 10);
      } else {
        assertRefusal(r, 'insufficient_quota', 'budget refusal');
        firstRefusal ??= r;
        consecutiveRefusals += 1;
      }
      await sleep(100);
    }
    assert.ok(okOnDp1 >= 2, `only ${okOnDp1} requests admitted under a $1 budget at $0.10 each`);

    // Data plane 2 spent nothing itself, yet refuses the key (possibly after a request or two
    // admitted before the spend reached it).
    let okOnDp2 = 0;
    await until(async () => {
      const r = await chat(keys.budget, body, dp2.url);
      if (r.status === 200) { okOnDp2 += 1; return false; }
      assertRefusal(r, 'insufficient_quota', 'budget refusal on data plane 2');
      return true;
    }, { timeoutMs: 10000, intervalMs: 200, what: 'data plane 2 refuses the key' });
    // And keeps refusing.
    for (let i = 0; i < 3; i++) {
      const r = await chat(keys.budget, body, dp2.url);
      assertRefusal(r, 'insufficient_quota', 'budget refusal on data plane 2');
    }

    // What the control plane stored for the key: the spend stays near the budget.
    const usage = await S.cli(['usage', '--vkey-id', ids.key_budget, '--from', '-1h']);
    const row = (usage.rows ?? [])[0] ?? {};
    const spend = Number(row.cost_usd ?? 0);
    const admitted = okOnDp1 + okOnDp2;
    assert.ok(Math.abs(spend - admitted * 0.1) < 1e-6, `stored spend ${spend} != ${admitted} x $0.10`);
    assert.ok(spend <= 2.0, `spend ${spend} far over the $1 budget`);
  });
});
