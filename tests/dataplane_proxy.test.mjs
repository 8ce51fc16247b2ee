// End-to-end tests of the data plane (issue 3): the real control plane and data plane, config made
// with the admin CLI `llm-proxy`, and the fake upstream (tests/fake_upstream/server.mjs) standing in
// for OpenAI / Azure OpenAI / an OpenAI-compatible server.
//
// Run: cd tests && LLMPROXY_BIN_DIR=<build>/bin node --test dataplane_proxy.test.mjs
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';

import { startStack, findId, freePort } from './lib/dataplane.mjs';
import { completionText, errorBody, DEFAULT_COMPLETION_TOKENS } from './lib/fake_upstream.mjs';

const OPENAI_KEY = 'sk-real-openai-0123456789abcdef';
const AZURE_KEY = 'azure-real-key-fedcba9876543210';
const COMPAT_KEY = 'compat-real-key-5555';
const MASTER_KEY = 'sk-master-e2e-0000000000000000';
const KEY_A = 'sk-lp-e2eteamA00000000000000000000000000000000000000';
const KEY_B = 'sk-lp-e2eteamB00000000000000000000000000000000000000';
const KEY_DISABLED = 'sk-lp-e2edisabled000000000000000000000000000000000';
const KEY_EXPIRED = 'sk-lp-e2eexpired0000000000000000000000000000000000';
const MAX_BODY = 256 * 1024;
const AZURE_API_VERSION = '2024-06-01';

let S;  // the stack
let dpShortTimeout;  // a second data plane with a short --upstream-timeout-ms
let dpShortIdle;  // a third one with a short --idle-timeout-ms (also the upstream body's)
const ids = {};

// ---------------------------------------------------------------------------- helpers

async function call(base, method, path, { key, keyHeader = 'authorization', headers = {}, body, raw } = {}) {
  const h = { ...headers };
  if (key !== undefined) h[keyHeader] = keyHeader === 'authorization' ? `Bearer ${key}` : key;
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined && !h['content-type']) h['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers: h, body: payload });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

const post = (path, body, opts = {}) => call(S.dp.url, 'POST', path, { body, key: KEY_A, ...opts });
const get = (path, opts = {}) => call(S.dp.url, 'GET', path, { key: KEY_A, ...opts });

function assertOpenAiError(r, status, what) {
  assert.equal(r.status, status, `${what}: expected HTTP ${status}, got ${r.status}: ${r.text.slice(0, 300)}`);
  assert.ok(r.json && typeof r.json.error === 'object', `${what}: body is not {"error":{…}}: ${r.text.slice(0, 300)}`);
  const e = r.json.error;
  assert.equal(typeof e.message, 'string', `${what}: error.message`);
  assert.ok(e.message.length > 0, `${what}: error.message empty`);
  assert.equal(typeof e.type, 'string', `${what}: error.type`);
  assert.ok('param' in e, `${what}: error.param missing`);
  assert.ok('code' in e, `${what}: error.code missing`);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/, `${what}: content-type`);
}

/** Every header value and the body of a recorded upstream request, as one string. */
function everythingSent(rec) {
  return JSON.stringify(rec.headers) + '\n' + rec.url + '\n' + rec.body;
}

/** Reads an SSE response event by event; returns [{data, at}] (at: ms since `t0`). */
async function readSse(res, t0, onEvent) {
  const events = [];
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
      const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data === '') continue;
      const ev = { data, at: Date.now() - t0 };
      events.push(ev);
      if (onEvent) await onEvent(ev, events);
    }
  }
  return events;
}

async function streamRequest(path, body, opts = {}) {
  const t0 = Date.now();
  const res = await fetch(S.dp.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${opts.key ?? KEY_A}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: opts.signal,
  });
  return { res, t0 };
}

/** Sends a request with http.request and returns {status, text} even if the server stops reading. */
function rawRequest(port, { method = 'POST', path, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: new Headers(Object.entries(res.headers).map(([k, v]) => [k, String(v)])), text, json });
      });
      res.on('error', reject);
    });
    req.on('error', (e) => reject(e));
    req.end(body);
  });
}

/** Polls fn() until it returns truthy; returns [value, elapsed ms]. */
async function until(fn, { timeoutMs = 5000, intervalMs = 20, what = 'condition' } = {}) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await fn();
    if (last) return [last, Date.now() - t0];
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const chatBody = (model, extra = {}) => ({ model, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'say hello to the world' }], ...extra });
const CHAT_PROMPT_TOKENS = 7;  // "be brief" (2) + "say hello to the world" (5)

// ---------------------------------------------------------------------------- setup

before(async () => {
  S = await startStack({ dataplane: { masterKey: MASTER_KEY, maxBodyBytes: MAX_BODY } });
  const f = S.fake;
  const cli = S.cli;

  // Connections
  ids.openai = findId(await cli(['connection', 'add', '--name', 'e2e-openai', '--provider', 'openai', '--endpoint', f.openaiEndpoint, '--api-key', OPENAI_KEY]), 'cn_');
  ids.azure = findId(await cli(['connection', 'add', '--name', 'e2e-azure', '--provider', 'azure_openai', '--endpoint', f.url, '--api-key', AZURE_KEY, '--api-version', AZURE_API_VERSION]), 'cn_');
  ids.compat = findId(await cli(['connection', 'add', '--name', 'e2e-compat', '--provider', 'openai_compatible', '--endpoint', f.openaiEndpoint, '--api-key', COMPAT_KEY]), 'cn_');
  ids.offConn = findId(await cli(['connection', 'add', '--name', 'e2e-off', '--provider', 'openai', '--endpoint', f.openaiEndpoint, '--api-key', OPENAI_KEY, '--disabled']), 'cn_');
  const deadPort = await freePort();  // nothing listens there
  ids.deadConn = findId(await cli(['connection', 'add', '--name', 'e2e-dead', '--provider', 'openai', '--endpoint', `http://127.0.0.1:${deadPort}/v1`, '--api-key', OPENAI_KEY]), 'cn_');

  // Models (alias -> remote). Remote names with "status429", "hang", ... drive the fake.
  const model = async (name, remote, conn, extra = []) => findId(await cli(['model', 'add', '--name', name, '--remote', remote, '--conn-id', conn, ...extra]), 'md_');
  ids.chat = await model('chat-alias', 'gpt-4o-mini-2024-07-18', ids.openai);
  ids.emb = await model('emb-alias', 'text-embedding-3-small', ids.openai);
  ids.instruct = await model('instruct-alias', 'gpt-3.5-turbo-instruct', ids.openai);
  ids.slow = await model('slow-alias', 'fake-chunkdelay200', ids.openai);
  ids.hang = await model('hang-alias', 'fake-hang', ids.openai);
  ids.late = await model('late-alias', 'fake-firstbyte300', ids.openai);
  ids.close = await model('close-alias', 'fake-close', ids.openai);
  ids.midclose = await model('midclose-alias', 'fake-midclose', ids.openai);
  ids.chunked = await model('chunked-alias', 'fake-chunked', ids.openai);
  ids.chunkedSlow = await model('chunked-slow-alias', 'fake-chunked-chunkdelay30', ids.openai);
  ids.stall = await model('stall-alias', 'fake-chunked-chunkdelay2000', ids.openai);
  ids.stallStream = await model('stall-stream-alias', 'fake-chunkdelay2000', ids.openai);
  for (const s of [400, 429, 500, 503]) ids[`e${s}`] = await model(`err${s}-alias`, `fake-status${s}`, ids.openai);
  ids.disabledModel = await model('disabled-alias', 'gpt-4o', ids.openai, ['--disabled']);
  ids.azureChat = await model('azure-chat', 'my-gpt4o-deployment', ids.azure);
  ids.azureEmb = await model('azure-emb', 'my-embedding-deployment', ids.azure);
  ids.compatChat = await model('compat-chat', 'meta-llama/Llama-3-8B-Instruct', ids.compat);
  ids.offConnModel = await model('offconn-alias', 'gpt-4o', ids.offConn);
  ids.deadModel = await model('dead-alias', 'gpt-4o', ids.deadConn);

  // Virtual keys: team A gets every connection, team B only chat-alias.
  ids.keyA = findId(await cli(['vkey', 'add', '--name', 'e2e-team-a', '--key', KEY_A, '--conn-id', ids.openai]), 'vk_');
  for (const c of [ids.azure, ids.compat, ids.offConn, ids.deadConn]) {
    await cli(['assignment', 'add', '--vkey-id', ids.keyA, '--conn-id', c]);
  }
  ids.keyB = findId(await cli(['vkey', 'add', '--name', 'e2e-team-b', '--key', KEY_B, '--model-id', ids.chat]), 'vk_');
  ids.keyDisabled = findId(await cli(['vkey', 'add', '--name', 'e2e-disabled', '--key', KEY_DISABLED, '--conn-id', ids.openai, '--disabled']), 'vk_');
  ids.keyExpired = findId(await cli(['vkey', 'add', '--name', 'e2e-expired', '--key', KEY_EXPIRED, '--conn-id', ids.openai, '--expires', '2020-01-01T00:00:00Z']), 'vk_');

  // Wait for the data plane to hold that config (team B is created after team A).
  await until(async () => (await get('/v1/models', { key: KEY_B })).status === 200, { timeoutMs: 10000, what: 'config reaches the data plane' });
  dpShortTimeout = await S.startExtraDataplane({ upstreamTimeoutMs: 500 });
  await until(async () => (await call(dpShortTimeout.url, 'GET', '/v1/models', { key: KEY_A })).status === 200, { timeoutMs: 10000, what: 'config reaches the second data plane' });
  dpShortIdle = await S.startExtraDataplane({ idleTimeoutMs: 700 });
  await until(async () => (await call(dpShortIdle.url, 'GET', '/v1/models', { key: KEY_A })).status === 200, { timeoutMs: 10000, what: 'config reaches the third data plane' });
});

after(async () => {
  if (S) await S.stop();
});

// ---------------------------------------------------------------------------- happy paths

describe('OpenAI connection, non-streamed', () => {
  it('chat: answers the fake\'s completion with exact usage, rewrites the model to remote_model', async () => {
    await S.fake.clearRequests();
    const r = await post('/v1/chat/completions', chatBody('chat-alias', { max_tokens: 7, temperature: 0.25 }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.choices[0].message.content, completionText(7));
    assert.deepEqual(
      { p: r.json.usage.prompt_tokens, c: r.json.usage.completion_tokens, t: r.json.usage.total_tokens },
      { p: CHAT_PROMPT_TOKENS, c: 7, t: CHAT_PROMPT_TOKENS + 7 });

    const [rec] = await S.fake.requestsTo('/chat/completions');
    assert.ok(rec, 'the fake saw the request');
    assert.equal(rec.path, '/v1/chat/completions');
    assert.equal(rec.json.model, 'gpt-4o-mini-2024-07-18', 'model rewritten to remote_model');
    assert.deepEqual(rec.json.messages, chatBody('x').messages, 'messages forwarded unchanged');
    assert.equal(rec.json.temperature, 0.25, 'other fields forwarded unchanged');
    assert.equal(rec.json.max_tokens, 7);
  });

  for (const [alias, how] of [['chunked-alias', 'back to back'], ['chunked-slow-alias', '30 ms apart']]) {
    it(`a chunked answer (no Content-Length, pieces ${how}) arrives whole, with its usage, and the connection is reused`, async () => {
      await S.fake.clearRequests();
      for (let i = 0; i < 3; i++) {
        const r = await post('/v1/chat/completions', chatBody(alias, { max_tokens: 9 }));
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.choices[0].message.content, completionText(9));
        assert.equal(r.json.usage.completion_tokens, 9);
        assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(r.text)), 'the client gets a Content-Length');
      }
      const ports = new Set((await S.fake.requests()).map((q) => q.remote_port));
      // (Two at most: a client connection can land on either I/O thread, each with its own pool.)
      assert.ok(ports.size <= 2, `three requests used ${ports.size} upstream connections: the chunked answer's was not reused`);
    });
  }

  it('reuses pooled upstream connections for sequential requests', async () => {
    await post('/v1/chat/completions', chatBody('chat-alias'));  // warm the pool
    await S.fake.clearRequests();
    for (let i = 0; i < 8; i++) assert.equal((await post('/v1/chat/completions', chatBody('chat-alias'))).status, 200);
    const ports = new Set((await S.fake.requests()).map((r) => r.remote_port));
    assert.ok(ports.size <= 2, `8 sequential requests used ${ports.size} upstream connections`);
  });

  it('sends the real provider key and never the virtual key', async () => {
    await S.fake.clearRequests();
    const r = await post('/v1/chat/completions', chatBody('chat-alias'));
    assert.equal(r.status, 200, r.text);
    const rec = await S.fake.lastRequest();
    assert.equal(rec.headers.authorization, `Bearer ${OPENAI_KEY}`);
    assert.ok(!everythingSent(rec).includes(KEY_A), 'virtual key forwarded upstream');
    assert.ok(!everythingSent(rec).includes('e2eteamA'), 'part of the virtual key forwarded upstream');
  });

  it('completions: exact usage, model rewritten', async () => {
    await S.fake.clearRequests();
    const r = await post('/v1/completions', { model: 'instruct-alias', prompt: 'one two three four', max_tokens: 3 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'text_completion');
    assert.equal(r.json.choices[0].text, completionText(3));
    assert.equal(r.json.usage.prompt_tokens, 4);
    assert.equal(r.json.usage.completion_tokens, 3);
    const rec = await S.fake.lastRequest();
    assert.equal(rec.path, '/v1/completions');
    assert.equal(rec.json.model, 'gpt-3.5-turbo-instruct');
  });

  it('embeddings: vectors and usage, model rewritten', async () => {
    await S.fake.clearRequests();
    const r = await post('/v1/embeddings', { model: 'emb-alias', input: ['alpha beta', 'gamma'], encoding_format: 'float' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    assert.equal(r.json.data.length, 2);
    assert.equal(r.json.data[1].index, 1);
    assert.ok(Array.isArray(r.json.data[0].embedding));
    assert.deepEqual(r.json.usage, { prompt_tokens: 3, total_tokens: 3 });
    const rec = await S.fake.lastRequest();
    assert.equal(rec.path, '/v1/embeddings');
    assert.equal(rec.json.model, 'text-embedding-3-small');
    assert.deepEqual(rec.json.input, ['alpha beta', 'gamma']);
  });
});

describe('OpenAI connection, streamed', () => {
  it('chat stream without include_usage: content arrives, no usage chunk leaks to the client', async () => {
    await S.fake.clearRequests();
    const { res, t0 } = await streamRequest('/v1/chat/completions', chatBody('chat-alias', { stream: true, max_tokens: 4 }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = await readSse(res, t0);
    assert.equal(events.at(-1).data, '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(text, completionText(4));
    for (const c of chunks) {
      assert.ok(c.usage === undefined || c.usage === null, `usage chunk reached a client that did not ask: ${JSON.stringify(c)}`);
      assert.ok(Array.isArray(c.choices) && c.choices.length > 0, `chunk without choices reached the client: ${JSON.stringify(c)}`);
    }
    const rec = await S.fake.lastRequest();
    assert.equal(rec.json.model, 'gpt-4o-mini-2024-07-18');
    assert.equal(rec.json.stream, true);
  });

  it('the proxy asks the provider for usage on streams the client did not ask usage for', async () => {
    // DESIGN.md, limits and usage: "for streams, ask the provider for usage
    // (stream_options.include_usage) and strip that extra chunk if the client did not ask for it".
    await S.fake.clearRequests();
    const { res, t0 } = await streamRequest('/v1/chat/completions', chatBody('chat-alias', { stream: true, max_tokens: 2 }));
    assert.equal(res.status, 200);
    await readSse(res, t0);
    const rec = await S.fake.lastRequest();
    assert.equal(rec.json.stream_options?.include_usage, true, `forwarded body: ${rec.body}`);
  });

  it('chat stream with include_usage: the final usage chunk arrives exactly as OpenAI sends it', async () => {
    const { res, t0 } = await streamRequest('/v1/chat/completions', chatBody('chat-alias', { stream: true, stream_options: { include_usage: true } }));
    assert.equal(res.status, 200);
    const events = await readSse(res, t0);
    assert.equal(events.at(-1).data, '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.prompt_tokens, CHAT_PROMPT_TOKENS);
    assert.equal(last.usage.completion_tokens, DEFAULT_COMPLETION_TOKENS);
    assert.equal(last.usage.total_tokens, CHAT_PROMPT_TOKENS + DEFAULT_COMPLETION_TOKENS);
    for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null, 'other chunks carry "usage": null');
  });

  it('completions stream', async () => {
    await S.fake.clearRequests();
    const { res, t0 } = await streamRequest('/v1/completions', { model: 'instruct-alias', prompt: 'a b', stream: true, max_tokens: 3, stream_options: { include_usage: true } });
    assert.equal(res.status, 200);
    const events = await readSse(res, t0);
    assert.equal(events.at(-1).data, '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    assert.equal(chunks.map((c) => c.choices?.[0]?.text ?? '').join(''), completionText(3));
    assert.deepEqual(chunks.at(-1).usage, { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
    assert.equal((await S.fake.lastRequest()).json.model, 'gpt-3.5-turbo-instruct');
  });

  it('SSE is relayed event by event (first event reaches the client before the upstream sends the last)', async () => {
    await S.fake.clearRequests();
    // slow-alias -> "fake-chunkdelay200": 200 ms between chunks; 6 tokens -> 9 writes, ~1.6 s.
    const { res, t0 } = await streamRequest('/v1/chat/completions', chatBody('slow-alias', { stream: true, max_tokens: 6 }));
    assert.equal(res.status, 200);
    let upstreamAtFirst;
    const events = await readSse(res, t0, async (ev, all) => {
      if (all.length === 1) upstreamAtFirst = await S.fake.lastRequest();
    });
    assert.equal(events.at(-1).data, '[DONE]');
    assert.ok(upstreamAtFirst, 'saw the upstream request');
    assert.equal(upstreamAtFirst.state, 'responding', `upstream had already finished when the first event arrived (chunks sent: ${upstreamAtFirst.chunks_sent})`);
    const spread = events.at(-1).at - events[0].at;
    assert.ok(spread >= 1000, `events arrived together (first at ${events[0].at} ms, last at ${events.at(-1).at} ms): buffered?`);
    assert.ok(events[0].at < 1000, `first event took ${events[0].at} ms`);
  });

  it('an upstream that dies mid-stream ends the client\'s stream (no hang)', async () => {
    const t0 = Date.now();
    const res = await fetch(S.dp.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('midclose-alias', { stream: true, max_tokens: 10 })),
      signal: AbortSignal.timeout(10000),
    });
    assert.equal(res.status, 200, 'headers were already sent upstream-side, so the proxy answers 200');
    let events = [];
    try {
      events = await readSse(res, t0);
    } catch (e) {
      // A reset/truncated chunked body is an acceptable way to signal the failure; a hang is not.
      assert.notEqual(e.name, 'TimeoutError', 'client stream hung after the upstream died');
    }
    assert.ok(Date.now() - t0 < 5000, `client stream ended only after ${Date.now() - t0} ms`);
    assert.ok(!events.some((e) => e.data === '[DONE]'), 'the proxy invented a [DONE] for a truncated stream');
  });

  it('client abort closes the upstream request', async () => {
    await S.fake.clearRequests();
    const ac = new AbortController();
    const { res, t0 } = await streamRequest('/v1/chat/completions', chatBody('slow-alias', { stream: true, max_tokens: 100 }), { signal: ac.signal });
    assert.equal(res.status, 200);
    await readSse(res, t0, async () => { ac.abort(); }).catch(() => {});
    const [rec, ms] = await until(async () => (await S.fake.requests()).find((r) => r.client_closed), { timeoutMs: 5000, what: 'upstream sees the socket close' });
    assert.ok(rec.chunks_sent < 20, `the upstream kept streaming (${rec.chunks_sent} chunks) after the client left`);
    assert.ok(ms < 3000, `upstream closed ${ms} ms after the abort`);
  });
});

/** Opens a raw TCP connection to the data plane; collects what it sends. */
async function rawConnection() {
  const socket = net.connect(Number(new URL(S.dp.url).port), '127.0.0.1');
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const state = { socket, text: '', closed: false };
  socket.on('data', (d) => { state.text += d.toString('latin1'); });
  socket.on('close', () => { state.closed = true; });
  return state;
}

function rawPost(body, key = KEY_A) {
  const json = JSON.stringify(body);
  return `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}

describe('client connection while the provider works', () => {
  it('a client that hangs up before a non-streamed answer cancels the upstream request', async () => {
    await S.fake.clearRequests();
    const c = await rawConnection();
    c.socket.write(rawPost(chatBody('hang-alias')));
    await until(async () => (await S.fake.requests()).find((r) => r.json?.model === 'fake-hang'), { timeoutMs: 5000, what: 'the request reaches the fake' });
    c.socket.destroy();
    const [rec, ms] = await until(async () => (await S.fake.requests()).find((r) => r.json?.model === 'fake-hang' && r.client_closed), { timeoutMs: 5000, what: 'upstream sees the socket close' });
    assert.ok(rec, 'upstream request not cancelled');
    assert.ok(ms < 3000, `upstream closed ${ms} ms after the client left`);
  });

  it('a request pipelined while the previous one is upstream is answered after it, in order', async () => {
    await S.fake.clearRequests();
    const c = await rawConnection();
    // The first answer comes after 300 ms; the second request arrives while the proxy waits.
    c.socket.write(rawPost(chatBody('late-alias', { max_tokens: 2 })));
    await until(async () => (await S.fake.requests()).length === 1, { timeoutMs: 5000, what: 'the first request reaches the fake' });
    c.socket.write(rawPost(chatBody('chat-alias', { max_tokens: 3 })));
    await until(async () => (c.text.match(/HTTP\/1\.1 /g) ?? []).length === 2 && c.text.endsWith('}'), { timeoutMs: 5000, what: 'both answers' });
    const answers = c.text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2);
    assert.match(answers[0], /^HTTP\/1\.1 200 /);
    assert.match(answers[1], /^HTTP\/1\.1 200 /);
    assert.ok(answers[0].includes(JSON.stringify(completionText(2))), 'first answer is the first request\'s');
    assert.ok(answers[1].includes(JSON.stringify(completionText(3))), 'second answer is the second request\'s');
    assert.equal(c.closed, false, 'the connection stays open');
    c.socket.destroy();
  });

  it('an answer larger than the socket takes at once reaches a slow reader whole', async () => {
    const c = await rawConnection();
    c.socket.pause();  // let the proxy's write fill the socket before anything is read
    c.socket.write(rawPost(chatBody('chat-alias', { max_tokens: 400000 })));
    await new Promise((r) => setTimeout(r, 500));
    c.socket.resume();
    const [length] = await until(() => {
      const m = /content-length: (\d+)\r\n/i.exec(c.text);
      const at = c.text.indexOf('\r\n\r\n');
      return m && at >= 0 && c.text.length - at - 4 >= Number(m[1]) ? Number(m[1]) : 0;
    }, { timeoutMs: 10000, what: 'the whole answer' });
    assert.ok(length > 3_000_000, `answer of ${length} bytes`);
    const json = JSON.parse(c.text.slice(c.text.indexOf('\r\n\r\n') + 4));
    assert.equal(json.choices[0].message.content, completionText(400000));
    c.socket.destroy();
  });
});

// ---------------------------------------------------------------------------- keys

describe('client keys', () => {
  for (const [header, value] of [['authorization', 'Bearer'], ['api-key', 'raw'], ['x-api-key', 'raw']]) {
    it(`accepts the virtual key in ${header}`, async () => {
      await S.fake.clearRequests();
      const r = await post('/v1/chat/completions', chatBody('chat-alias'), { keyHeader: header });
      assert.equal(r.status, 200, `${header} (${value}): ${r.text}`);
      const rec = await S.fake.lastRequest();
      assert.equal(rec.headers.authorization, `Bearer ${OPENAI_KEY}`);
      assert.ok(!everythingSent(rec).includes(KEY_A), `virtual key forwarded upstream (${header})`);
      assert.equal(rec.headers['x-api-key'], undefined, 'x-api-key forwarded upstream');
    });
  }

  it('master key may call any model', async () => {
    const r = await post('/v1/chat/completions', chatBody('chat-alias'), { key: MASTER_KEY });
    assert.equal(r.status, 200, r.text);
    const r2 = await post('/v1/embeddings', { model: 'emb-alias', input: 'x' }, { key: MASTER_KEY });
    assert.equal(r2.status, 200, r2.text);
    const rec = await S.fake.lastRequest();
    assert.ok(!everythingSent(rec).includes(MASTER_KEY), 'master key forwarded upstream');
  });

  it('401 when the key is missing', async () => {
    assertOpenAiError(await call(S.dp.url, 'POST', '/v1/chat/completions', { body: chatBody('chat-alias') }), 401, 'no key');
  });
  it('401 for an unknown key', async () => {
    assertOpenAiError(await post('/v1/chat/completions', chatBody('chat-alias'), { key: 'sk-lp-nosuchkey' }), 401, 'bad key');
  });
  it('401 for a disabled key', async () => {
    assertOpenAiError(await post('/v1/chat/completions', chatBody('chat-alias'), { key: KEY_DISABLED }), 401, 'disabled key');
  });
  it('401 for an expired key', async () => {
    assertOpenAiError(await post('/v1/chat/completions', chatBody('chat-alias'), { key: KEY_EXPIRED }), 401, 'expired key');
  });
  it('401 error never echoes the key', async () => {
    const r = await post('/v1/chat/completions', chatBody('chat-alias'), { key: 'sk-lp-secretvalue1234567890' });
    assert.ok(!r.text.includes('secretvalue1234567890'), `error echoes the key: ${r.text}`);
  });
});

// ---------------------------------------------------------------------------- models

describe('models', () => {
  it('GET /v1/models lists only the aliases assigned to the key', async () => {
    const r = await get('/v1/models', { key: KEY_B });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    assert.deepEqual(r.json.data.map((m) => m.id), ['chat-alias']);
    assert.equal(r.json.data[0].object, 'model');
  });

  it('GET /v1/models for a key with connection assignments lists every alias on them', async () => {
    const r = await get('/v1/models', { key: KEY_A });
    assert.equal(r.status, 200, r.text);
    const names = new Set(r.json.data.map((m) => m.id));
    for (const n of ['chat-alias', 'emb-alias', 'azure-chat', 'compat-chat']) assert.ok(names.has(n), `${n} missing from ${[...names]}`);
    assert.equal(new Set(r.json.data.map((m) => m.id)).size, r.json.data.length, 'duplicate aliases listed');
  });

  it('GET /v1/models/{m}: 200 for an assigned alias, 403/404 for an unassigned one, 404 for an unknown one', async () => {
    const r = await get('/v1/models/chat-alias', { key: KEY_B });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, 'chat-alias');
    assert.equal(r.json.object, 'model');
    // OpenAI answers 404 for a model the key cannot see; 403 (as for a call) is also defensible.
    const u = await get('/v1/models/emb-alias', { key: KEY_B });
    assertOpenAiError(u, u.status === 403 ? 403 : 404, 'unassigned model lookup');
    assertOpenAiError(await get('/v1/models/no-such-model', { key: KEY_B }), 404, 'unknown model lookup');
  });

  it('GET /v1/models needs a key', async () => {
    assertOpenAiError(await call(S.dp.url, 'GET', '/v1/models'), 401, 'models without key');
  });

  it('403 when the model exists but is not assigned to the key', async () => {
    assertOpenAiError(await post('/v1/embeddings', { model: 'emb-alias', input: 'x' }, { key: KEY_B }), 403, 'unassigned model');
  });

  it('404 for an unknown model', async () => {
    assertOpenAiError(await post('/v1/chat/completions', chatBody('no-such-model')), 404, 'unknown model');
    assertOpenAiError(await post('/v1/chat/completions', chatBody('no-such-model'), { key: MASTER_KEY }), 404, 'unknown model (master key)');
  });
});

// ---------------------------------------------------------------------------- providers

describe('Azure OpenAI connection', () => {
  it('chat goes to the deployment URL with api-version and the api-key header', async () => {
    await S.fake.clearRequests();
    const r = await post('/v1/chat/completions', chatBody('azure-chat', { max_tokens: 2 }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, completionText(2));
    assert.equal(r.json.usage.prompt_tokens, CHAT_PROMPT_TOKENS);
    const rec = await S.fake.lastRequest();
    assert.equal(rec.path, '/openai/deployments/my-gpt4o-deployment/chat/completions');
    assert.equal(rec.query['api-version'], AZURE_API_VERSION);
    assert.equal(rec.headers['api-key'], AZURE_KEY);
    assert.ok(!everythingSent(rec).includes(KEY_A), 'virtual key forwarded to Azure');
    assert.ok(!(rec.headers.authorization ?? '').includes(OPENAI_KEY));
  });

  it('streamed chat (Azure\'s first chunk has no choices) with usage', async () => {
    const { res, t0 } = await streamRequest('/v1/chat/completions', chatBody('azure-chat', { stream: true, max_tokens: 3, stream_options: { include_usage: true } }));
    assert.equal(res.status, 200);
    const events = await readSse(res, t0);
    assert.equal(events.at(-1).data, '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    assert.equal(chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join(''), completionText(3));
    assert.deepEqual({ p: chunks.at(-1).usage?.prompt_tokens, c: chunks.at(-1).usage?.completion_tokens }, { p: CHAT_PROMPT_TOKENS, c: 3 });
  });

  it('embeddings go to the embeddings deployment URL', async () => {
    await S.fake.clearRequests();
    const r = await post('/v1/embeddings', { model: 'azure-emb', input: 'one two', encoding_format: 'float' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.usage, { prompt_tokens: 2, total_tokens: 2 });
    const rec = await S.fake.lastRequest();
    assert.equal(rec.path, '/openai/deployments/my-embedding-deployment/embeddings');
    assert.equal(rec.query['api-version'], AZURE_API_VERSION);
    assert.equal(rec.headers['api-key'], AZURE_KEY);
  });
});

describe('openai_compatible connection', () => {
  it('chat goes to endpoint + /chat/completions with the remote model and bearer key', async () => {
    await S.fake.clearRequests();
    const r = await post('/v1/chat/completions', chatBody('compat-chat', { max_tokens: 1 }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.usage.completion_tokens, 1);
    const rec = await S.fake.lastRequest();
    assert.equal(rec.path, '/v1/chat/completions');
    assert.equal(rec.json.model, 'meta-llama/Llama-3-8B-Instruct');
    assert.equal(rec.headers.authorization, `Bearer ${COMPAT_KEY}`);
  });
});

// ---------------------------------------------------------------------------- refusals

describe('request errors', () => {
  it('400 for malformed JSON', async () => {
    assertOpenAiError(await post('/v1/chat/completions', undefined, { raw: '{"model": "chat-alias", "messages": [' }), 400, 'malformed JSON');
  });
  it('400 when the model is missing', async () => {
    assertOpenAiError(await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }), 400, 'missing model');
  });
  it('400 when the body is not an object', async () => {
    assertOpenAiError(await post('/v1/chat/completions', undefined, { raw: '[1,2,3]' }), 400, 'array body');
  });
  it('413 when the body is larger than --max-body-bytes', async () => {
    const big = JSON.stringify(chatBody('chat-alias', { padding: 'x'.repeat(MAX_BODY + 1024) }));
    let r;
    try {
      r = await rawRequest(S.dp.port, { path: '/v1/chat/completions', headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) }, body: big });
    } catch (e) {
      assert.fail(`connection failed instead of a 413 answer: ${e.code ?? e.message}`);
    }
    assertOpenAiError(r, 413, 'body too large');
  });
  it('413 when a chunked body (no Content-Length) grows past --max-body-bytes', async () => {
    const big = JSON.stringify(chatBody('chat-alias', { padding: 'x'.repeat(MAX_BODY + 1024) }));
    let r;
    try {
      r = await rawRequest(S.dp.port, { path: '/v1/chat/completions', headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: big });
    } catch (e) {
      assert.fail(`connection failed instead of a 413 answer: ${e.code ?? e.message}`);
    }
    assertOpenAiError(r, 413, 'chunked body too large');
  });
  it('a body just under the limit is accepted', async () => {
    const body = chatBody('chat-alias', { padding: 'x'.repeat(MAX_BODY - 4096) });
    const r = await post('/v1/chat/completions', body);
    assert.equal(r.status, 200, r.text.slice(0, 300));
  });
});

describe('upstream failures', () => {
  it('502 when the upstream closes the connection without answering', async () => {
    assertOpenAiError(await post('/v1/chat/completions', chatBody('close-alias')), 502, 'upstream closed');
  });
  it('502 when nothing listens at the endpoint', async () => {
    assertOpenAiError(await post('/v1/chat/completions', chatBody('dead-alias')), 502, 'connection refused');
  });
  it('504 when the upstream does not answer within --upstream-timeout-ms', async () => {
    const t0 = Date.now();
    const r = await call(dpShortTimeout.url, 'POST', '/v1/chat/completions', { key: KEY_A, body: chatBody('hang-alias') });
    const ms = Date.now() - t0;
    assertOpenAiError(r, 504, 'upstream timeout');
    assert.ok(ms >= 450, `answered 504 after ${ms} ms, before the 500 ms timeout`);
    assert.ok(ms < 5000, `took ${ms} ms with a 500 ms upstream timeout`);
  });
  // The upstream sends its header and a first piece, then nothing for 2 s:
  // with a 700 ms idle timeout the proxy gives up long before the next piece.
  it('504 when a non-streamed answer stalls longer than --idle-timeout-ms', async () => {
    const t0 = Date.now();
    const r = await call(dpShortIdle.url, 'POST', '/v1/chat/completions', { key: KEY_A, body: chatBody('stall-alias') });
    const ms = Date.now() - t0;
    assertOpenAiError(r, 504, 'stalled answer');
    assert.match(r.json.error.message, /stopped answering/);
    assert.ok(ms >= 650, `answered 504 after ${ms} ms, before the 700 ms idle timeout`);
    assert.ok(ms < 1900, `answered after ${ms} ms: the stall ended before the timeout fired`);
  });
  it('a stream that stalls longer than --idle-timeout-ms ends truncated, without [DONE]', async () => {
    const t0 = Date.now();
    const res = await fetch(`${dpShortIdle.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('stall-stream-alias', { stream: true, max_tokens: 5 })),
      signal: AbortSignal.timeout(10000),
    });
    assert.equal(res.status, 200);
    const events = [];
    try {
      await readSse(res, t0, (ev) => events.push(ev));
    } catch (e) {
      // The truncated chunked body ends the read with an error: expected.
      assert.notEqual(e.name, 'TimeoutError', 'client stream hung after the upstream stalled');
    }
    const ms = Date.now() - t0;
    assert.ok(ms < 1900, `stream ended after ${ms} ms: the stall ended before the timeout fired`);
    assert.ok(events.length >= 1 && events.length < 3, `relayed ${events.length} events before the stall`);
    assert.ok(!events.some((e) => e.data === '[DONE]'), 'the proxy invented a [DONE] for a truncated stream');
  });
  it('503 when the only deployment is disabled', async () => {
    assertOpenAiError(await post('/v1/chat/completions', chatBody('disabled-alias')), 503, 'disabled model');
  });
  it('503 when the model\'s connection is disabled', async () => {
    assertOpenAiError(await post('/v1/chat/completions', chatBody('offconn-alias')), 503, 'disabled connection');
  });
  for (const s of [400, 429, 500, 503]) {
    it(`provider error ${s}: status and body passed through unchanged`, async () => {
      const r = await post('/v1/chat/completions', chatBody(`err${s}-alias`));
      assert.equal(r.status, s, r.text);
      assert.equal(r.text, errorBody(s), 'provider error body altered');
      if (s === 429) assert.ok(r.headers.get('retry-after'), 'provider Retry-After dropped');
    });
  }
  it('provider error on a streamed request is passed through too', async () => {
    const { res } = await streamRequest('/v1/chat/completions', chatBody('err429-alias', { stream: true }));
    assert.equal(res.status, 429);
    assert.equal(await res.text(), errorBody(429));
  });
});

// ---------------------------------------------------------------------------- live config

describe('config changes made with the CLI', () => {
  it('a new key works within 1 s', async () => {
    const key = 'sk-lp-e2enewkey00000000000000000000000000000000000';
    await S.cli(['vkey', 'add', '--name', 'e2e-new', '--key', key, '--model-id', ids.chat]);
    const [, ms] = await until(async () => (await post('/v1/chat/completions', chatBody('chat-alias'), { key })).status === 200, { timeoutMs: 5000, what: 'new key accepted' });
    assert.ok(ms < 1000, `new key accepted ${ms} ms after the CLI returned`);
  });

  it('disabling a key takes effect within 1 s', async () => {
    const key = 'sk-lp-e2etodisable000000000000000000000000000000000';
    const id = findId(await S.cli(['vkey', 'add', '--name', 'e2e-todisable', '--key', key, '--model-id', ids.chat]), 'vk_');
    await until(async () => (await post('/v1/chat/completions', chatBody('chat-alias'), { key })).status === 200, { timeoutMs: 5000, what: 'key accepted' });
    await S.cli(['vkey', 'update', id, '--disabled']);
    const [, ms] = await until(async () => (await post('/v1/chat/completions', chatBody('chat-alias'), { key })).status === 401, { timeoutMs: 5000, what: 'disabled key refused' });
    assert.ok(ms < 1000, `disabled key refused ${ms} ms after the CLI returned`);
  });

  it('changing remote_model re-routes within 1 s', async () => {
    const id = findId(await S.cli(['model', 'add', '--name', 'e2e-moving', '--remote', 'remote-one', '--conn-id', ids.openai]), 'md_');
    await until(async () => (await post('/v1/chat/completions', chatBody('e2e-moving'))).status === 200, { timeoutMs: 5000, what: 'new model callable' });
    await S.cli(['model', 'update', id, '--remote', 'remote-two']);
    const [, ms] = await until(async () => {
      await post('/v1/chat/completions', chatBody('e2e-moving'));
      return (await S.fake.lastRequest()).json?.model === 'remote-two';
    }, { timeoutMs: 5000, what: 'new remote model used' });
    assert.ok(ms < 1000, `new remote_model used ${ms} ms after the CLI returned`);
  });
});
