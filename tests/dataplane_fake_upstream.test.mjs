// The fake LLM provider the data-plane tests and benchmarks use (tests/fake_upstream/server.mjs):
// checks its wire format and behaviour controls on their own, so a failure in the proxy tests
// can be told apart from a broken fake. Needs no llm-proxy binary.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startFakeUpstream, completionText, errorBody, DEFAULT_COMPLETION_TOKENS } from './lib/fake_upstream.mjs';

let fake;
const KEY = 'sk-fake-real-key';

before(async () => { fake = await startFakeUpstream({ apiKeys: [KEY] }); });
after(async () => { await fake?.stop(); });

const post = (path, body, headers = {}) => fetch(fake.url + path, {
  method: 'POST',
  headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

async function sse(res) {
  const text = await res.text();
  return text.split('\n\n').filter(Boolean).map((b) => b.replace(/^data: /, ''));
}

describe('fake upstream', () => {
  it('chat: deterministic content and usage, echoes the model', async () => {
    const r = await post('/v1/chat/completions', { model: 'm1', messages: [{ role: 'user', content: 'a b c' }], max_tokens: 4 });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.model, 'm1');
    assert.equal(j.choices[0].message.content, completionText(4));
    assert.deepEqual([j.usage.prompt_tokens, j.usage.completion_tokens, j.usage.total_tokens], [3, 4, 7]);
  });

  it('stream with include_usage ends with a choices-less usage chunk, then [DONE]', async () => {
    const r = await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } });
    assert.match(r.headers.get('content-type'), /text\/event-stream/);
    const ev = await sse(r);
    assert.equal(ev.at(-1), '[DONE]');
    const usage = JSON.parse(ev.at(-2));
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.completion_tokens, DEFAULT_COMPLETION_TOKENS);
    assert.equal(JSON.parse(ev[0]).usage, null);
  });

  it('stream without include_usage has no usage field', async () => {
    const ev = await sse(await post('/v1/completions', { model: 'm', prompt: 'x', stream: true, max_tokens: 2 }));
    for (const e of ev.slice(0, -1)) assert.equal(JSON.parse(e).usage, undefined);
  });

  it('embeddings: float and base64', async () => {
    const f = await (await post('/v1/embeddings', { model: 'e', input: ['a b', 'c'] })).json();
    assert.equal(f.data.length, 2);
    assert.deepEqual(f.usage, { prompt_tokens: 3, total_tokens: 3 });
    const b = await (await post('/v1/embeddings', { model: 'e', input: 'a', encoding_format: 'base64' })).json();
    assert.equal(Buffer.from(b.data[0].embedding, 'base64').length, 8 * 4);
  });

  it('Azure deployment path, api-version and api-key', async () => {
    await fake.clearRequests();
    const r = await fetch(`${fake.url}/openai/deployments/dep1/chat/completions?api-version=2024-06-01`, {
      method: 'POST', headers: { 'api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'q' }] }),
    });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).model, 'dep1');
    const rec = await fake.lastRequest();
    assert.equal(rec.query['api-version'], '2024-06-01');
    assert.equal(rec.headers['api-key'], KEY);
  });

  it('401 for a wrong key', async () => {
    const r = await post('/v1/chat/completions', { model: 'm' }, { authorization: 'Bearer wrong' });
    assert.equal(r.status, 401);
    assert.equal(await r.text(), errorBody(401));
  });

  it('error statuses from the model name, the header and the admin rule', async () => {
    assert.equal((await post('/v1/chat/completions', { model: 'fake-status503' })).status, 503);
    const h = await post('/v1/chat/completions', { model: 'm' }, { 'x-fake-behavior': 'status=429' });
    assert.equal(h.status, 429);
    assert.equal(h.headers.get('retry-after'), '1');
    await fake.setBehavior('status=500', { model: 'ruled' });
    assert.equal((await post('/v1/chat/completions', { model: 'ruled' })).status, 500);
    await fake.clearBehaviors();
    assert.equal((await post('/v1/chat/completions', { model: 'ruled', messages: [] })).status, 200);
  });

  it('firstbyte delay and chunk delay', async () => {
    let t0 = Date.now();
    await (await post('/v1/chat/completions', { model: 'm', messages: [] }, { 'x-fake-behavior': 'firstbyte=300' })).text();
    assert.ok(Date.now() - t0 >= 290);
    t0 = Date.now();
    await sse(await post('/v1/chat/completions', { model: 'fake-chunkdelay50', messages: [], stream: true, max_tokens: 4 }));
    assert.ok(Date.now() - t0 >= 6 * 50 - 10);
  });

  it('close and hang', async () => {
    await assert.rejects(post('/v1/chat/completions', { model: 'fake-close' }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(fetch(`${fake.url}/v1/chat/completions`, { method: 'POST', signal: ac.signal, headers: { authorization: `Bearer ${KEY}` }, body: '{"model":"fake-hang"}' }));
    const rec = await fake.waitFor((l) => l.find((r) => r.json?.model === 'fake-hang' && r.client_closed));
    assert.equal(rec.state, 'aborted');
    const closed = (await fake.requests()).find((r) => r.json?.model === 'fake-close');
    assert.equal(closed.state, 'dropped');
    assert.equal(closed.client_closed, false);
  });
});
