#!/usr/bin/env node
// A fake LLM provider for llm-proxy's end-to-end tests and benchmarks.
//
// Plain Node (http module, no dependencies). Speaks OpenAI's wire format
//   POST {prefix}/chat/completions, {prefix}/completions, {prefix}/embeddings,
//   GET  {prefix}/models
// (any prefix, usually /v1) and Azure OpenAI's
//   POST /openai/deployments/{deployment}/{chat/completions|completions|embeddings}?api-version=...
// with the key in the `api-key` header.
//
// Run:  node server.mjs [--port 0] [--host 127.0.0.1] [--api-key K]... [--record 200] [--no-record]
//                       [--behavior SPEC] [--keep-alive-ms 65000]
// Prints "listening <port>" on stdout once it accepts connections.
//
// Deterministic usage (so tests can check it exactly), see countTokens() and friends:
//   prompt_tokens     = whitespace-separated words in the prompt text (chat: every message's
//                       text content; completions: prompt; embeddings: input), at least 1
//   completion_tokens = max_completion_tokens ?? max_tokens ?? DEFAULT_COMPLETION_TOKENS
//   the completion text is "tok0 tok1 ... tok{N-1}"; a stream sends one content chunk per token.
//
// Behaviour controls (all use the same SPEC syntax; later sources override earlier ones):
//   1. the server default (--behavior, or POST /__fake/behavior {"behavior": SPEC})
//   2. a per-model rule (POST /__fake/behavior {"model": M, "behavior": SPEC})
//   3. segments of the model name (or Azure deployment name) split on '-' or '_',
//      e.g. "fake-status429", "gpt-x-firstbyte2000", "fake-chunkdelay200", "fake-hang"
//   4. the request header `x-fake-behavior: SPEC`
// SPEC is a list of items separated by ',', ';', or spaces; each item "key=value" or "keyVALUE":
//   status=N        answer HTTP N with an OpenAI error body (errorBody(N)); 4xx/5xx
//   firstbyte=MS    wait MS before sending the response head (alias: delay)
//   chunkdelay=MS   wait MS between SSE chunks of a stream
//   hang            read the request, then never answer (keeps the socket open)
//   close           read the request, then close the socket without answering
//   reset           read the request, then reset the connection (TCP RST)
//   midclose        streams: close the socket after the first content chunk
//   chunked         non-streamed answers: Transfer-Encoding chunked, the JSON in 7 pieces (with
//                   chunkdelay=MS between them, else written back to back)
//
// Admin endpoints (never recorded):
//   GET    /__fake/health              "ok"
//   GET    /__fake/requests[?limit=N]  the last N requests received, oldest first: [{seq, method,
//                                      path, query, url, headers, body, json, received_at,
//                                      remote_port (tells connections apart: pooling),
//                                      state: received|responding|done|aborted|dropped
//                                      (dropped: the fake closed it on purpose), client_closed,
//                                      chunks_sent, finished_at}]
//   DELETE /__fake/requests            forget them
//   GET    /__fake/behavior            {"default": SPEC, "models": {M: SPEC}}
//   POST   /__fake/behavior            {"behavior": SPEC, "model"?: M}  (empty SPEC removes)
//   DELETE /__fake/behavior            remove every rule
//   GET    /__fake/config              {"api_keys": [...]}
//   POST   /__fake/config              {"api_keys": [...]}  keys accepted (empty: any non-empty key)
//   POST   /__fake/reset               requests, behaviours and config back to the start values
//   GET    /__fake/stats               {"requests_total", "in_flight", "max_in_flight",
//                                      "client_closed_total"}  (max_in_flight: most API requests
//                                      in flight at once since the start or the last reset)
//   DELETE /__fake/stats               max_in_flight back to the current in_flight
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export const DEFAULT_COMPLETION_TOKENS = 16;
export const DEFAULT_EMBEDDING_DIMENSIONS = 8;
const CREATED = 1700000000;

/** Number of tokens of a text under the fake's rule: whitespace-separated words. */
export function countTokens(text) {
  if (typeof text !== 'string') return 0;
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}

function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p.text === 'string' ? p.text : '')).join(' ');
  }
  return '';
}

function inputTokens(input) {
  if (typeof input === 'string') return countTokens(input);
  if (Array.isArray(input)) {
    let n = 0;
    for (const item of input) {
      if (typeof item === 'string') n += countTokens(item);
      else if (typeof item === 'number') n += 1;  // pre-tokenised input
      else if (Array.isArray(item)) n += item.length;
    }
    return n;
  }
  return 0;
}

/** prompt_tokens the fake reports for a request body of the given kind. */
export function promptTokens(kind, body) {
  let n = 0;
  if (kind === 'chat') {
    for (const m of body?.messages ?? []) n += countTokens(contentText(m?.content));
  } else if (kind === 'completions') {
    n = inputTokens(body?.prompt);
  } else if (kind === 'embeddings') {
    n = inputTokens(body?.input);
  }
  return Math.max(1, n);
}

/** completion_tokens the fake reports (and generates) for a request body. */
export function completionTokens(body) {
  const n = body?.max_completion_tokens ?? body?.max_tokens;
  return Number.isInteger(n) && n >= 0 ? n : DEFAULT_COMPLETION_TOKENS;
}

/** The completion text the fake generates for n tokens. */
export function completionText(n) {
  const words = [];
  for (let i = 0; i < n; i++) words.push(`tok${i}`);
  return words.join(' ');
}

const ERROR_BODIES = {
  400: { message: "Invalid value for 'temperature': expected a number. (fake-upstream)", type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' },
  401: { message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys. (fake-upstream)', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
  403: { message: 'You are not allowed to sample from this model. (fake-upstream)', type: 'invalid_request_error', param: null, code: 'model_not_allowed' },
  404: { message: 'The model does not exist or you do not have access to it. (fake-upstream)', type: 'invalid_request_error', param: null, code: 'model_not_found' },
  429: { message: 'Rate limit reached for requests. Please try again in 1s. (fake-upstream)', type: 'requests', param: null, code: 'rate_limit_exceeded' },
  500: { message: 'The server had an error while processing your request. Sorry about that! (fake-upstream)', type: 'server_error', param: null, code: null },
  502: { message: 'Bad gateway. (fake-upstream)', type: 'server_error', param: null, code: null },
  503: { message: 'The engine is currently overloaded, please try again later. (fake-upstream)', type: 'server_error', param: null, code: null },
};

/** The exact body the fake sends with an error status (a JSON string, OpenAI's error shape). */
export function errorBody(status) {
  const e = ERROR_BODIES[status] ?? { message: `Fake upstream error ${status}. (fake-upstream)`, type: 'server_error', param: null, code: null };
  return JSON.stringify({ error: e }, null, 2) + '\n';  // OpenAI pretty-prints its errors
}

/** Parses a behaviour SPEC (see the file comment) into an object; unknown items are ignored. */
export function parseBehavior(spec, separators = /[,;\s]+/) {
  const out = {};
  if (!spec) return out;
  for (const raw of String(spec).split(separators)) {
    const item = raw.trim().toLowerCase();
    if (!item) continue;
    let m = /^(status|firstbyte|delay|chunkdelay)(?:=|:)?(\d+)$/.exec(item);
    if (m) {
      const key = m[1] === 'delay' ? 'firstbyte' : m[1];
      out[key] = Number(m[2]);
      continue;
    }
    if (/^(hang|close|reset|midclose|chunked)$/.test(item)) out[item] = true;
  }
  return out;
}

function behaviorFromModelName(model) {
  if (typeof model !== 'string' || model === '') return {};
  const b = parseBehavior(model, /[-_]+/);
  if (b.status !== undefined && (b.status < 400 || b.status > 599)) delete b.status;
  return b;
}

function embeddingVector(i, dims) {
  const v = new Array(dims);
  for (let d = 0; d < dims; d++) v[d] = Number((((i + 1) * (d + 3)) % 17 / 17 - 0.5).toFixed(6));
  return v;
}

function toBase64(vec) {
  const f = new Float32Array(vec);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function parseArgs(argv) {
  const opts = { port: 0, host: '127.0.0.1', apiKeys: [], record: 200, behavior: '', keepAliveMs: 65000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--port') opts.port = Number(next());
    else if (a.startsWith('--port=')) opts.port = Number(a.slice(7));
    else if (a === '--host') opts.host = next();
    else if (a === '--api-key') opts.apiKeys.push(next());
    else if (a === '--record') opts.record = Number(next());
    else if (a === '--no-record') opts.record = 0;
    else if (a === '--behavior') opts.behavior = next();
    else if (a === '--keep-alive-ms') opts.keepAliveMs = Number(next());
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: server.mjs [--port 0] [--host 127.0.0.1] [--api-key K]... [--record N|--no-record] [--behavior SPEC]\n');
      process.exit(0);
    } else {
      process.stderr.write(`unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  return opts;
}

/**
 * Creates the fake upstream (not yet listening). Returns {server, state, listen(port, host)}.
 * options: {apiKeys: [], record: 200, behavior: '', keepAliveMs: 65000}
 */
export function createFakeUpstream(options = {}) {
  const initial = {
    apiKeys: [...(options.apiKeys ?? [])],
    behavior: options.behavior ?? '',
  };
  const state = {
    recordLimit: options.record ?? 200,
    requests: [],
    seq: 0,
    requestsTotal: 0,
    inFlight: 0,
    maxInFlight: 0,
    clientClosedTotal: 0,
    apiKeys: [...initial.apiKeys],
    defaultBehavior: initial.behavior,
    modelBehaviors: new Map(),
    idCounter: 0,
  };

  function record(req, path, query, bodyText, json) {
    const entry = {
      seq: ++state.seq,
      method: req.method,
      url: req.url,
      path,
      query,
      headers: { ...req.headers },
      body: bodyText,
      json,
      received_at: Date.now(),
      remote_port: req.socket.remotePort,
      state: 'received',
      client_closed: false,
      chunks_sent: 0,
      finished_at: null,
    };
    if (state.recordLimit > 0) {
      state.requests.push(entry);
      if (state.requests.length > state.recordLimit) state.requests.splice(0, state.requests.length - state.recordLimit);
    }
    return entry;
  }

  function sendJson(res, status, obj, extraHeaders = {}) {
    const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...extraHeaders,
    });
    res.end(text);
  }

  function nextId(prefix) {
    state.idCounter += 1;
    return `${prefix}-fake${String(state.idCounter).padStart(8, '0')}`;
  }

  async function handleAdmin(req, res, path, query, bodyText) {
    let body = {};
    try {
      body = bodyText ? JSON.parse(bodyText) : {};
    } catch {
      return sendJson(res, 400, { error: 'bad json' });
    }
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'GET /__fake/health':
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('ok');
      case 'GET /__fake/requests': {
        const limit = Number(query.get('limit') ?? 0);
        const list = limit > 0 ? state.requests.slice(-limit) : state.requests;
        return sendJson(res, 200, list);
      }
      case 'DELETE /__fake/requests':
        state.requests = [];
        return sendJson(res, 200, { ok: true });
      case 'GET /__fake/behavior':
        return sendJson(res, 200, { default: state.defaultBehavior, models: Object.fromEntries(state.modelBehaviors) });
      case 'POST /__fake/behavior':
        if (body.model) {
          if (body.behavior) state.modelBehaviors.set(body.model, String(body.behavior));
          else state.modelBehaviors.delete(body.model);
        } else {
          state.defaultBehavior = String(body.behavior ?? '');
        }
        return sendJson(res, 200, { default: state.defaultBehavior, models: Object.fromEntries(state.modelBehaviors) });
      case 'DELETE /__fake/behavior':
        state.defaultBehavior = '';
        state.modelBehaviors.clear();
        return sendJson(res, 200, { ok: true });
      case 'GET /__fake/config':
        return sendJson(res, 200, { api_keys: state.apiKeys });
      case 'POST /__fake/config':
        if (Array.isArray(body.api_keys)) state.apiKeys = body.api_keys.map(String);
        return sendJson(res, 200, { api_keys: state.apiKeys });
      case 'POST /__fake/reset':
        state.requests = [];
        state.defaultBehavior = initial.behavior;
        state.modelBehaviors.clear();
        state.apiKeys = [...initial.apiKeys];
        return sendJson(res, 200, { ok: true });
      case 'GET /__fake/stats':
        return sendJson(res, 200, {
          requests_total: state.requestsTotal,
          in_flight: state.inFlight,
          max_in_flight: state.maxInFlight,
          client_closed_total: state.clientClosedTotal,
        });
      case 'DELETE /__fake/stats':
        state.maxInFlight = state.inFlight;
        return sendJson(res, 200, { ok: true });
      default:
        return sendJson(res, 404, { error: `no admin route ${route}` });
    }
  }

  // Works out what an API request is: {kind, model, azure, deployment} or null.
  function classify(method, path) {
    const az = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/.exec(path);
    if (az) {
      const kind = az[2] === 'chat/completions' ? 'chat' : az[2];
      return { kind, azure: true, deployment: decodeURIComponent(az[1]) };
    }
    if (method === 'GET' && /(^|\/)models$/.test(path)) return { kind: 'models', azure: false };
    const m = /(^|\/)(chat\/completions|completions|embeddings)$/.exec(path);
    if (!m) return null;
    return { kind: m[2] === 'chat/completions' ? 'chat' : m[2], azure: false };
  }

  function checkAuth(req, route) {
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers['authorization'] ?? '')?.[1];
    const apiKey = req.headers['api-key'];
    const presented = route.azure ? (apiKey ?? bearer) : bearer;
    if (!presented) return false;
    if (state.apiKeys.length === 0) return true;
    return state.apiKeys.includes(presented);
  }

  function behaviorFor(req, model) {
    const b = {
      ...parseBehavior(state.defaultBehavior),
      ...(state.modelBehaviors.has(model) ? parseBehavior(state.modelBehaviors.get(model)) : {}),
      ...behaviorFromModelName(model),
      ...parseBehavior(req.headers['x-fake-behavior']),
    };
    return b;
  }

  function commonHeaders(reqId) {
    return {
      'x-request-id': reqId,
      'openai-processing-ms': '1',
      'openai-version': '2020-10-01',
    };
  }

  function chatCompletion(model, body, p, c, azure) {
    const text = completionText(c);
    const out = {
      id: nextId('chatcmpl'),
      object: 'chat.completion',
      created: CREATED,
      model,
      choices: [{
        index: 0,
        message: { role: 'assistant', content: text, refusal: null },
        logprobs: null,
        finish_reason: (body?.max_completion_tokens ?? body?.max_tokens) !== undefined ? 'length' : 'stop',
      }],
      usage: {
        prompt_tokens: p,
        completion_tokens: c,
        total_tokens: p + c,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_fake0001',
    };
    if (azure) {
      out.prompt_filter_results = [{ prompt_index: 0, content_filter_results: {} }];
      out.choices[0].content_filter_results = {};
    }
    return out;
  }

  function textCompletion(model, body, p, c) {
    return {
      id: nextId('cmpl'),
      object: 'text_completion',
      created: CREATED,
      model,
      choices: [{
        text: completionText(c),
        index: 0,
        logprobs: null,
        finish_reason: (body?.max_tokens !== undefined) ? 'length' : 'stop',
      }],
      usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c },
      system_fingerprint: 'fp_fake0001',
    };
  }

  function embeddings(model, body, p) {
    const inputs = Array.isArray(body?.input) && body.input.length > 0 && typeof body.input[0] !== 'number' ? body.input : [body?.input];
    const dims = Number.isInteger(body?.dimensions) && body.dimensions > 0 ? body.dimensions : DEFAULT_EMBEDDING_DIMENSIONS;
    const b64 = body?.encoding_format === 'base64';
    return {
      object: 'list',
      data: inputs.map((_, i) => {
        const v = embeddingVector(i, dims);
        return { object: 'embedding', index: i, embedding: b64 ? toBase64(v) : v };
      }),
      model,
      usage: { prompt_tokens: p, total_tokens: p },
    };
  }

  // Streams a chat or text completion as OpenAI does.
  async function stream(req, res, entry, route, model, body, p, c, behavior) {
    const includeUsage = body?.stream_options?.include_usage === true;
    const id = nextId(route.kind === 'chat' ? 'chatcmpl' : 'cmpl');
    const finish = (body?.max_completion_tokens ?? body?.max_tokens) !== undefined ? 'length' : 'stop';
    const chunks = [];
    const usageField = includeUsage ? { usage: null } : {};
    if (route.kind === 'chat') {
      const base = { id, object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: 'fp_fake0001' };
      if (route.azure) {
        // Azure sends the prompt filter results first, in a chunk with no choices.
        chunks.push({ choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] });
      }
      chunks.push({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }], ...usageField });
      for (let i = 0; i < c; i++) {
        chunks.push({ ...base, choices: [{ index: 0, delta: { content: (i === 0 ? '' : ' ') + `tok${i}` }, logprobs: null, finish_reason: null }], ...usageField });
      }
      chunks.push({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finish }], ...usageField });
      if (includeUsage) {
        chunks.push({ ...base, choices: [], usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } } });
      }
    } else {
      const base = { id, object: 'text_completion', created: CREATED, model, system_fingerprint: 'fp_fake0001' };
      for (let i = 0; i < c; i++) {
        chunks.push({ ...base, choices: [{ text: (i === 0 ? '' : ' ') + `tok${i}`, index: 0, logprobs: null, finish_reason: null }], ...usageField });
      }
      chunks.push({ ...base, choices: [{ text: '', index: 0, logprobs: null, finish_reason: finish }], ...usageField });
      if (includeUsage) chunks.push({ ...base, choices: [], usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c } });
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...commonHeaders(id),
    });
    res.flushHeaders();
    const delay = behavior.chunkdelay ?? 0;
    let contentChunks = 0;
    for (const chunk of chunks) {
      if (entry.client_closed) return;
      if (delay > 0 && entry.chunks_sent > 0) {
        await sleep(delay);
        if (entry.client_closed) return;
      }
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      entry.chunks_sent += 1;
      if (chunk.choices?.length && (chunk.choices[0].delta?.content || chunk.choices[0].text)) contentChunks += 1;
      if (behavior.midclose && contentChunks >= 1) {
        entry.state = 'dropped';
        entry.finished_at = Date.now();
        req.socket.destroy();
        return;
      }
    }
    if (delay > 0) await sleep(delay);
    if (entry.client_closed) return;
    res.end('data: [DONE]\n\n');
    entry.chunks_sent += 1;
  }

  async function handleApi(req, res, route, path, query, bodyText) {
    let body = null;
    if (req.method === 'POST') {
      try {
        body = JSON.parse(bodyText);
      } catch {
        body = undefined;
      }
    }
    const entry = record(req, path, Object.fromEntries(query), bodyText, body ?? null);
    state.requestsTotal += 1;
    state.inFlight += 1;
    if (state.inFlight > state.maxInFlight) state.maxInFlight = state.inFlight;
    let counted = true;
    const done = () => {
      if (counted) { counted = false; state.inFlight -= 1; }
    };
    res.on('close', () => {
      done();
      if (entry.state === 'dropped') {
        entry.finished_at = entry.finished_at ?? Date.now();
      } else if (!res.writableFinished && entry.state !== 'done') {
        entry.client_closed = true;
        entry.state = 'aborted';
        entry.finished_at = Date.now();
        state.clientClosedTotal += 1;
      } else if (entry.state !== 'aborted') {  // finished normally
        entry.state = 'done';
        entry.finished_at = entry.finished_at ?? Date.now();
      }
    });

    const model = route.azure ? route.deployment : (body?.model ?? '');
    const behavior = behaviorFor(req, model);

    if (behavior.hang) return;  // never answer
    if (behavior.close) { entry.state = 'dropped'; req.socket.destroy(); return; }
    if (behavior.reset) {
      entry.state = 'dropped';
      if (typeof req.socket.resetAndDestroy === 'function') req.socket.resetAndDestroy();
      else req.socket.destroy();
      return;
    }
    if (behavior.firstbyte) {
      await sleep(behavior.firstbyte);
      if (entry.client_closed) return;
    }
    entry.state = 'responding';
    const reqId = `req_fake${String(entry.seq).padStart(8, '0')}`;

    if (!checkAuth(req, route)) {
      return sendJson(res, 401, errorBody(401), commonHeaders(reqId));
    }
    if (behavior.status) {
      const extra = { ...commonHeaders(reqId) };
      if (behavior.status === 429) {
        extra['retry-after'] = '1';
        extra['x-ratelimit-limit-requests'] = '60';
        extra['x-ratelimit-remaining-requests'] = '0';
        extra['x-ratelimit-reset-requests'] = '1s';
      }
      return sendJson(res, behavior.status, errorBody(behavior.status), extra);
    }
    if (route.kind === 'models') {
      return sendJson(res, 200, {
        object: 'list',
        data: [
          { id: 'gpt-4o-mini', object: 'model', created: CREATED, owned_by: 'system' },
          { id: 'text-embedding-3-small', object: 'model', created: CREATED, owned_by: 'system' },
        ],
      }, commonHeaders(reqId));
    }
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      return sendJson(res, 400, JSON.stringify({ error: { message: "We could not parse the JSON body of your request. (fake-upstream)", type: 'invalid_request_error', param: null, code: null } }), commonHeaders(reqId));
    }
    if (!route.azure && !body.model) {
      return sendJson(res, 400, JSON.stringify({ error: { message: 'you must provide a model parameter (fake-upstream)', type: 'invalid_request_error', param: null, code: null } }), commonHeaders(reqId));
    }
    const p = promptTokens(route.kind, body);
    if (route.kind === 'embeddings') {
      return sendJson(res, 200, embeddings(model, body, p), commonHeaders(reqId));
    }
    const c = completionTokens(body);
    if (body.stream === true) {
      return stream(req, res, entry, route, model, body, p, c, behavior);
    }
    const out = route.kind === 'chat' ? chatCompletion(model, body, p, c, route.azure) : textCompletion(model, body, p, c);
    if (behavior.chunked) return sendChunkedJson(res, out, commonHeaders(reqId), behavior.chunkdelay ?? 0);
    return sendJson(res, 200, out, commonHeaders(reqId));
  }

  // A non-streamed answer as some providers send it: no Content-Length, the body in chunks.
  async function sendChunkedJson(res, obj, extraHeaders, delayMs) {
    const text = JSON.stringify(obj);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...extraHeaders });
    const pieces = 7;
    const size = Math.ceil(text.length / pieces);
    for (let at = 0; at < text.length; at += size) {
      if (delayMs > 0 && at > 0) await sleep(delayMs);
      res.write(text.slice(at, at + size));
    }
    res.end();
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const bodyText = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
      const qi = req.url.indexOf('?');
      const path = qi < 0 ? req.url : req.url.slice(0, qi);
      const query = new URLSearchParams(qi < 0 ? '' : req.url.slice(qi + 1));
      const fail = (e) => {
        process.stderr.write(`fake upstream: ${e?.stack ?? e}\n`);
        if (!res.headersSent) sendJson(res, 500, errorBody(500));
        else res.destroy();
      };
      if (path.startsWith('/__fake/')) {
        handleAdmin(req, res, path, query, bodyText).catch(fail);
        return;
      }
      const route = classify(req.method, path);
      if (!route || (route.kind !== 'models' && req.method !== 'POST')) {
        record(req, path, Object.fromEntries(query), bodyText, null);
        return sendJson(res, 404, JSON.stringify({ error: { message: `Invalid URL (${req.method} ${path}) (fake-upstream)`, type: 'invalid_request_error', param: null, code: null } }));
      }
      handleApi(req, res, route, path, query, bodyText).catch(fail);
    });
  });
  server.keepAliveTimeout = options.keepAliveMs ?? 65000;
  server.headersTimeout = Math.max(server.keepAliveTimeout + 1000, 66000);
  server.requestTimeout = 0;  // "hang" must be able to hang
  server.maxRequestsPerSocket = 0;

  function listen(port = 0, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address().port);
      });
    });
  }

  return { server, state, listen };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const opts = parseArgs(process.argv.slice(2));
  const fake = createFakeUpstream(opts);
  const port = await fake.listen(opts.port, opts.host);
  process.stdout.write(`listening ${port}\n`);
  const stop = () => {
    fake.server.close();
    fake.server.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
