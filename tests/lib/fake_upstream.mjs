// Starts and stops the fake LLM provider (tests/fake_upstream/server.mjs) from tests.
//
//   const fake = await startFakeUpstream({ apiKeys: ['sk-real'] });
//   fake.url          -> "http://127.0.0.1:<port>"
//   await fake.requests()        -> every recorded request, oldest first
//   await fake.lastRequest()     -> the newest one (or undefined)
//   await fake.setBehavior('status=429', { model: 'gpt-x' })
//   await fake.reset(); await fake.stop();
//
// The fake runs in its own process so its timers (slow streams) are independent of the test's
// event loop, and a test that blocks reading a stream cannot starve it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export {
  countTokens,
  promptTokens,
  completionTokens,
  completionText,
  errorBody,
  DEFAULT_COMPLETION_TOKENS,
  DEFAULT_EMBEDDING_DIMENSIONS,
} from '../fake_upstream/server.mjs';

const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fake_upstream', 'server.mjs');

/**
 * Starts the fake upstream on a free 127.0.0.1 port.
 * options: {apiKeys?: string[], behavior?: string, record?: number, port?: number}
 */
export async function startFakeUpstream(options = {}) {
  const args = [SERVER, '--port', String(options.port ?? 0)];
  for (const k of options.apiKeys ?? []) args.push('--api-key', k);
  if (options.behavior) args.push('--behavior', options.behavior);
  if (options.record !== undefined) args.push('--record', String(options.record));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 20000) stderr = stderr.slice(-20000); });

  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`fake upstream did not start: ${stderr}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`fake upstream exited (${code}): ${stderr}`)); });
  });

  const url = `http://127.0.0.1:${port}`;
  const admin = async (method, p, body) => {
    const res = await fetch(url + p, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`fake upstream ${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };

  const fake = {
    port,
    url,
    /** Base URL for an OpenAI-style connection endpoint. */
    openaiEndpoint: `${url}/v1`,
    process: child,
    stderr: () => stderr,
    requests: () => admin('GET', '/__fake/requests'),
    async lastRequest() {
      const list = await admin('GET', '/__fake/requests');
      return list[list.length - 1];
    },
    /** Requests whose path ends with the given suffix (e.g. '/chat/completions'). */
    async requestsTo(suffix) {
      return (await admin('GET', '/__fake/requests')).filter((r) => r.path.endsWith(suffix));
    },
    clearRequests: () => admin('DELETE', '/__fake/requests'),
    setBehavior: (behavior, { model } = {}) => admin('POST', '/__fake/behavior', { behavior, ...(model ? { model } : {}) }),
    clearBehaviors: () => admin('DELETE', '/__fake/behavior'),
    setApiKeys: (keys) => admin('POST', '/__fake/config', { api_keys: keys }),
    stats: () => admin('GET', '/__fake/stats'),
    reset: () => admin('POST', '/__fake/reset'),
    /** Polls until predicate(requests) is truthy; returns its value. */
    async waitFor(predicate, { timeoutMs = 5000, intervalMs = 25 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const list = await admin('GET', '/__fake/requests');
        const v = predicate(list);
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`fake upstream: condition not met within ${timeoutMs} ms; requests: ${JSON.stringify(list.slice(-3).map((r) => ({ path: r.path, state: r.state })))}`);
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
  return fake;
}
