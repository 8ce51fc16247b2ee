#!/usr/bin/env node
// The workload a profile-guided build of llm-proxy-dataplane learns from (scripts/build_pgo.sh):
// a control plane on SQLite, the fake provider from tests/ and the data plane in $LLMPROXY_BIN_DIR,
// all on 127.0.0.1, then a fixed mix of what a gateway serves: non-streamed and streamed chat,
// completions and embeddings, through OpenAI, Azure OpenAI and OpenAI-compatible connections,
// with virtual keys and limits, plus the refusals (unknown key, unknown model, bad JSON, rate
// limited, provider errors). Bounded in count; stops everything and exits 0 when every answer had
// the status it should, 1 otherwise. The data plane is stopped with SIGTERM, so an instrumented
// build writes its profile.
//
// usage: LLMPROXY_BIN_DIR=<build>/bin node scripts/pgo_training.mjs [--scale 1]
import http from 'node:http';

import { findId, startStack } from '../tests/lib/dataplane.mjs';

const scaleAt = process.argv.indexOf('--scale');
const scale = scaleAt > 0 ? Number(process.argv[scaleAt + 1]) : 1;
if (!(scale > 0)) throw new Error('--scale takes a positive number');
const KEY = 'sk-lp-pgo-training-000000000000000000000000000000';
const LIMITED_KEY = 'sk-lp-pgo-limited-0000000000000000000000000000000';
const UPSTREAM_KEY = 'sk-upstream-pgo-00000000000000';

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

// One request; resolves {status, body} with the whole body read.
function request(dp, { method = 'POST', path, key = KEY, body, raw }) {
  return new Promise((resolve, reject) => {
    const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const headers = { authorization: `Bearer ${key}` };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const req = http.request({ host: '127.0.0.1', port: dp.port, method, path, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const chat = (model, extra = {}) => ({
  path: '/v1/chat/completions',
  body: { model, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'say hello to the world' }], max_tokens: 16, ...extra },
});

async function main() {
  const S = await startStack({ fake: { apiKeys: [UPSTREAM_KEY], record: 0 } });
  let failures = 0;
  try {
    const cli = S.cli;
    const conn = async (name, provider, endpoint, extra = []) =>
      findId(await cli(['connection', 'add', '--name', name, '--provider', provider, '--endpoint', endpoint, '--api-key', UPSTREAM_KEY, ...extra]), 'cn_');
    const openai = await conn('pgo-openai', 'openai', `${S.fake.url}/v1`);
    const azure = await conn('pgo-azure', 'azure_openai', S.fake.url, ['--api-version', '2024-10-21']);
    const compat = await conn('pgo-compat', 'openai_compatible', `${S.fake.url}/v1`);
    const model = (name, remote, c) => cli(['model', 'add', '--name', name, '--remote', remote, '--conn-id', c]);
    await model('chat', 'gpt-4o-mini', openai);
    await model('instruct', 'gpt-3.5-turbo-instruct', openai);
    await model('emb', 'text-embedding-3-small', openai);
    await model('azure-chat', 'my-gpt4o-deployment', azure);
    await model('compat-chat', 'meta-llama/Llama-3-8B-Instruct', compat);
    await model('err429', 'fake-status429', openai);
    await model('err500', 'fake-status500', openai);
    const key = findId(await cli(['vkey', 'add', '--name', 'pgo', '--key', KEY, '--conn-id', openai]), 'vk_');
    for (const c of [azure, compat]) await cli(['assignment', 'add', '--vkey-id', key, '--conn-id', c]);
    // An assignment with every kind of limit: a rate low enough that some requests are refused.
    await cli(['vkey', 'add', '--name', 'pgo-limited', '--key', LIMITED_KEY, '--conn-id', openai, '--tps', '100', '--burst', '20',
      '--tokens', '1000000', '--max-concurrent', '4', '--budget', '1000', '--budget-period', 'month']);

    // Wait for the data plane to have the config.
    for (let i = 0; ; i++) {
      if ((await request(S.dp, chat('compat-chat'))).status === 200 && (await request(S.dp, { ...chat('chat'), key: LIMITED_KEY })).status === 200) break;
      if (i > 200) throw new Error('the data plane never got its config');
      await new Promise((r) => setTimeout(r, 50));
    }

    // [weight, request, expected status(es)]; weights are per 100 requests.
    const mix = [
      [50, chat('chat'), [200]],
      [15, chat('chat', { stream: true }), [200]],
      [3, chat('chat', { stream: true, stream_options: { include_usage: true } }), [200]],
      [5, { path: '/v1/embeddings', body: { model: 'emb', input: 'the quick brown fox' } }, [200]],
      [3, { path: '/v1/completions', body: { model: 'instruct', prompt: 'say hello', max_tokens: 8 } }, [200]],
      [6, chat('azure-chat'), [200]],
      [2, chat('azure-chat', { stream: true }), [200]],
      [4, chat('compat-chat'), [200]],
      [4, { ...chat('chat'), key: LIMITED_KEY }, [200, 429]],
      [1, { method: 'GET', path: '/v1/models' }, [200]],
      [1, chat('err429'), [429]],
      [1, chat('err500'), [500]],
      [1, chat('no-such-model'), [404]],
      [1, { ...chat('chat'), key: 'sk-lp-not-a-key-000000000000000000000000000000' }, [401]],
      [1, { path: '/v1/chat/completions', raw: '{"model": "chat", "messages": [' }, [400]],
      [1, { path: '/v1/chat/completions', body: { model: 'chat' } }, [400]],
      [1, { method: 'GET', path: '/v1/nothing' }, [404]],
    ];
    const plan = mix.flatMap(([weight, req, ok]) => Array(weight).fill([req, ok]));
    const total = Math.round(30000 * scale);
    let next = 0;
    const counts = new Map();
    const worker = async () => {
      while (next < total) {
        const [req, ok] = plan[next++ % plan.length];
        const res = await request(S.dp, req);
        counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
        if (!ok.includes(res.status)) {
          failures++;
          if (failures <= 5) console.error(`unexpected ${res.status} for ${req.path}: ${res.body.slice(0, 200)}`);
        }
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: 8 }, worker));
    console.log(`pgo training: ${total} requests in ${Date.now() - started} ms, statuses ${JSON.stringify(Object.fromEntries(counts))}, ${failures} unexpected`);
  } finally {
    agent.destroy();
    const exit = await S.dp.stop();
    await S.stop();
    if (exit.code !== 0) {
      console.error(`the data plane exited with ${JSON.stringify(exit)}`);
      failures++;
    }
  }
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
