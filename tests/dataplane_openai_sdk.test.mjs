// The official `openai` npm package, pointed at the data plane (baseURL = data plane, apiKey =
// a virtual key), against the fake upstream: what an application would do.
//
// Run: cd tests && LLMPROXY_BIN_DIR=<build>/bin node --test dataplane_openai_sdk.test.mjs
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { startStack, findId } from './lib/dataplane.mjs';
import { completionText, DEFAULT_EMBEDDING_DIMENSIONS } from './lib/fake_upstream.mjs';

const PROVIDER_KEY = 'sk-real-provider-sdk-test-0001';
const VKEY = 'sk-lp-sdktest0000000000000000000000000000000000000';

let S;
let client;

before(async () => {
  S = await startStack();
  const conn = findId(await S.cli(['connection', 'add', '--name', 'sdk-openai', '--provider', 'openai', '--endpoint', S.fake.openaiEndpoint, '--api-key', PROVIDER_KEY]), 'cn_');
  await S.cli(['model', 'add', '--name', 'gpt-4o-mini', '--remote', 'gpt-4o-mini-2024-07-18', '--conn-id', conn]);
  await S.cli(['model', 'add', '--name', 'text-embedding-3-small', '--remote', 'text-embedding-3-small', '--conn-id', conn]);
  await S.cli(['vkey', 'add', '--name', 'sdk-team', '--key', VKEY, '--conn-id', conn]);
  client = new OpenAI({ baseURL: S.dp.baseURL, apiKey: VKEY, maxRetries: 0, timeout: 10000 });
  // Wait until the data plane holds the config.
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      await client.models.retrieve('gpt-4o-mini');
      break;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`config never reached the data plane: ${e.message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
});

after(async () => {
  if (S) await S.stop();
});

describe('openai SDK through the data plane', () => {
  it('chat.completions.create', async () => {
    const r = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'three little words' }],
      max_tokens: 5,
    });
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, completionText(5));
    assert.equal(r.usage.prompt_tokens, 3);
    assert.equal(r.usage.completion_tokens, 5);
    assert.equal(r.usage.total_tokens, 8);
    const rec = await S.fake.lastRequest();
    assert.equal(rec.json.model, 'gpt-4o-mini-2024-07-18');
    assert.equal(rec.headers.authorization, `Bearer ${PROVIDER_KEY}`);
  });

  it('streaming chat with include_usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me' }],
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage;
    let n = 0;
    for await (const chunk of stream) {
      n += 1;
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(n >= 5, `only ${n} chunks`);
    assert.equal(text, completionText(4));
    assert.equal(usage?.prompt_tokens, 2);
    assert.equal(usage?.completion_tokens, 4);
  });

  it('streaming chat without include_usage yields no usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
    });
    let sawUsage = false;
    let text = '';
    for await (const chunk of stream) {
      if (chunk.usage) sawUsage = true;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(sawUsage, false);
    assert.ok(text.startsWith('tok0 tok1'), text);
  });

  it('embeddings.create (the SDK asks for base64 and decodes it)', async () => {
    const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['hello world', 'bye'] });
    assert.equal(r.data.length, 2);
    assert.equal(r.data[0].embedding.length, DEFAULT_EMBEDDING_DIMENSIONS);
    assert.ok(r.data[0].embedding.every((x) => typeof x === 'number' && Number.isFinite(x)));
    assert.equal(r.usage.prompt_tokens, 3);
    const rec = await S.fake.lastRequest();
    assert.equal(rec.json.model, 'text-embedding-3-small');
    assert.equal(rec.json.encoding_format, 'base64');
  });

  it('models.list shows the assigned aliases', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids.sort(), ['gpt-4o-mini', 'text-embedding-3-small']);
  });

  it('errors surface as the SDK\'s typed errors', async () => {
    const bad = new OpenAI({ baseURL: S.dp.baseURL, apiKey: 'sk-lp-wrong', maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    await assert.rejects(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  });
});
