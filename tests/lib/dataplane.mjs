// Starts `llm-proxy-dataplane` (from $LLMPROXY_BIN_DIR) on free 127.0.0.1 ports against a control
// plane, waits for its /readyz, and stops it with SIGTERM.
//
//   const dp = await startDataplane({ controlplaneAddress: cp.grpcAddress, masterKey: 'sk-master' });
//   dp.url      -> "http://127.0.0.1:<port>"   (OpenAI-compatible client API; SDK baseURL: dp.url + '/v1')
//   dp.adminUrl -> "http://127.0.0.1:<port>"   (/metrics /healthz /readyz)
//   await dp.stop();                           -> {code, signal}
//
// startStack() starts a whole test stack: control plane (tests/lib/controlplane.mjs), fake
// upstream (tests/lib/fake_upstream.mjs) and a data plane; stack.cli(args) runs `llm-proxy -o json`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';

import { binDir, freePort, lostPortRace, PORT_RACE_ATTEMPTS, startControlplane } from './controlplane.mjs';
import { startFakeUpstream } from './fake_upstream.mjs';

export { freePort, binDir };

// Every data plane started here is killed hard if the test process exits without stopping it.
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/** Polls url until it answers 200 or the deadline passes; throws with the last error. */
export async function waitForHttpOk(url, { timeoutMs = 20000, intervalMs = 50, isAlive = () => true } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`process exited while waiting for ${url}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      const text = await res.text();
      if (res.status === 200) return text;
      last = `${res.status} ${text.slice(0, 200)}`;
    } catch (e) {
      last = String(e?.cause?.code ?? e?.message ?? e);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms (last: ${last})`);
}

/**
 * Starts a data plane.
 * options:
 *   controlplaneAddress  "127.0.0.1:port" of the control plane's gRPC (or controlplane: an object
 *                        from tests/lib/controlplane.mjs with a grpc address property)
 *   dataplaneToken       --dataplane-token (default: none, loopback dev mode, or the control
 *                        plane object's adminToken/dataplaneToken)
 *   masterKey, maxBodyBytes, upstreamTimeoutMs, upstreamConnectTimeoutMs, idleTimeoutMs, threads
 *                        (threads 0: no --threads flag, the binary's default)
 *   nodeId, snapshotDir (default: a fresh temp dir), extraArgs: [], env: {}
 *   launcher             a command the binary runs under, e.g. ['taskset', '-c', '0']
 *   waitReady (default true), readyTimeoutMs (default 20000)
 */
export async function startDataplane(options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDataplaneOnce(options);
    } catch (e) {
      if (attempt >= PORT_RACE_ATTEMPTS || !lostPortRace(e.message)) throw e;
    }
  }
}

async function startDataplaneOnce(options) {
  const cp = options.controlplane;
  const cpAddress = options.controlplaneAddress
    ?? cp?.grpcAddress ?? cp?.grpcTarget ?? cp?.address ?? cp?.server
    ?? (cp?.grpcPort ? `127.0.0.1:${cp.grpcPort}` : undefined);
  if (!cpAddress) throw new Error('startDataplane: controlplaneAddress (or controlplane) is required');
  const token = options.dataplaneToken ?? cp?.dataplaneToken ?? cp?.adminToken;

  const [port, adminPort] = [await freePort(), await freePort()];
  const dir = options.snapshotDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'llmproxy-dp-'));
  const nodeId = options.nodeId ?? `test-dp-${port}`;
  const args = [
    '--listen-address', `127.0.0.1:${port}`,
    '--admin-address', `127.0.0.1:${adminPort}`,
    '--controlplane-address', cpAddress,
    '--node-id', nodeId,
    '--snapshot-path', path.join(dir, 'snapshot.bin'),
    '--log-level', options.logLevel ?? 'info',
  ];
  if (options.threads !== 0) args.push('--threads', String(options.threads ?? 2));
  if (options.maxBodyBytes !== undefined) args.push('--max-body-bytes', String(options.maxBodyBytes));
  if (options.upstreamTimeoutMs !== undefined) args.push('--upstream-timeout-ms', String(options.upstreamTimeoutMs));
  if (options.upstreamConnectTimeoutMs !== undefined) args.push('--upstream-connect-timeout-ms', String(options.upstreamConnectTimeoutMs));
  if (options.idleTimeoutMs !== undefined) args.push('--idle-timeout-ms', String(options.idleTimeoutMs));
  args.push(...(options.extraArgs ?? []));

  // Our environment without LLMPROXY_* settings (they would leak into flags); secrets travel in
  // their documented env twins, not in argv where `ps` shows them.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LLMPROXY_')));
  env.LLMPROXY_ENCRYPTION_KEY = options.encryptionKey ?? crypto.randomBytes(32).toString('hex');
  if (token) env.LLMPROXY_DATAPLANE_TOKEN = token;
  if (options.masterKey) env.LLMPROXY_MASTER_KEY = options.masterKey;
  const bin = path.join(binDir(), 'llm-proxy-dataplane');
  const [command, ...commandArgs] = [...(options.launcher ?? []), bin, ...args];
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, ...(options.env ?? {}) } });
  live.add(child);
  let log = '';
  const keep = (d) => { log += d; if (log.length > 200000) log = log.slice(-200000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exit = null;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { live.delete(child); exit = { code, signal }; resolve(exit); }));
  child.once('error', (e) => { keep(`spawn error: ${e.message}\n`); });

  const dp = {
    port,
    adminPort,
    url: `http://127.0.0.1:${port}`,
    baseURL: `http://127.0.0.1:${port}/v1`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    nodeId,
    dir,
    process: child,
    args,
    log: () => log,
    exited,
    isRunning: () => exit === null,
    /** Waits for /readyz to answer 200. */
    waitReady: (timeoutMs = options.readyTimeoutMs ?? 20000) =>
      waitForHttpOk(`http://127.0.0.1:${adminPort}/readyz`, { timeoutMs, isAlive: () => exit === null }),
    /** The Prometheus text of /metrics. */
    metrics: async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(),
    /** SIGTERM, then SIGKILL after timeoutMs; resolves {code, signal}. */
    async stop(timeoutMs = 10000) {
      if (exit) return exit;
      child.kill('SIGTERM');
      const t = setTimeout(() => { if (!exit) child.kill('SIGKILL'); }, timeoutMs);
      const r = await exited;
      clearTimeout(t);
      if (!options.snapshotDir) fs.rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
  if (options.waitReady !== false) {
    try {
      await dp.waitReady();
    } catch (e) {
      await dp.stop(2000);
      throw new Error(`data plane did not become ready: ${e.message}\n--- data plane log ---\n${log.slice(-5000)}`);
    }
  }
  return dp;
}

// ---------------------------------------------------------------------------
// The whole stack for data-plane end-to-end tests: a control plane (tests/lib/controlplane.mjs),
// the fake upstream, and a data plane subscribed to the control plane; plus the admin CLI.


/**
 * Runs the admin CLI against a control plane from tests/lib/controlplane.mjs with `-o json`;
 * resolves the parsed output, rejects (with stderr) on a non-zero exit.
 */
export async function cliJson(cp, args) {
  const r = await cp.cli(['-o', 'json', ...args]);
  if (r.code !== 0) throw new Error(`llm-proxy ${args.join(' ')} failed (exit ${r.code ?? r.signal}): ${r.stderr || r.stdout}`);
  return r.json ?? r.stdout;
}

/** The first string in obj (deeply) that looks like an id with the prefix ("cn_", "md_", "vk_", "as_"). */
export function findId(obj, prefix) {
  const re = new RegExp(`^${prefix}[0-9a-f]{12}$`);
  const seen = [obj];
  while (seen.length) {
    const v = seen.shift();
    if (typeof v === 'string' && re.test(v)) return v;
    if (v && typeof v === 'object') {
      if (typeof v.id === 'string' && re.test(v.id)) return v.id;
      seen.push(...Object.values(v));
    }
  }
  if (typeof obj === 'string') {
    const m = new RegExp(`${prefix}[0-9a-f]{12}`).exec(obj);
    if (m) return m[0];
  }
  throw new Error(`no ${prefix}… id in ${JSON.stringify(obj)}`);
}

/** The gRPC address ("127.0.0.1:port") of a control plane object from tests/lib/controlplane.mjs. */
export function controlplaneGrpcAddress(cp) {
  const a = cp.grpcAddress ?? cp.grpcTarget ?? cp.address ?? cp.server ?? (cp.grpcPort ? `127.0.0.1:${cp.grpcPort}` : undefined);
  if (!a) throw new Error(`cannot find the control plane's gRPC address in ${Object.keys(cp)}`);
  return a;
}

/**
 * Starts control plane + fake upstream + data plane.
 * options: {controlplane: {...options for startControlplane}, fake: {...}, dataplane: {...}}
 * Returns {cp, fake, dp, cli(args), startExtraDataplane(opts), stop()}.
 */
export async function startStack(options = {}) {
  const stack = { cp: null, fake: null, dp: null, extra: [] };
  try {
    stack.fake = await startFakeUpstream(options.fake ?? {});
    stack.cp = await startControlplane(options.controlplane ?? {});
    const grpc = controlplaneGrpcAddress(stack.cp);
    const token = stack.cp.dataplaneToken || stack.cp.adminToken;
    stack.cli = (args) => cliJson(stack.cp, args);
    stack.startExtraDataplane = async (o = {}) => {
      const dp = await startDataplane({ controlplaneAddress: grpc, dataplaneToken: token, ...o });
      stack.extra.push(dp);
      return dp;
    };
    stack.dp = await startDataplane({ controlplaneAddress: grpc, dataplaneToken: token, ...(options.dataplane ?? {}) });
  } catch (e) {
    await stopStack(stack);
    throw e;
  }
  stack.stop = () => stopStack(stack);
  return stack;
}

async function stopStack(stack) {
  for (const dp of stack.extra ?? []) await dp.stop().catch(() => {});
  if (stack.dp) await stack.dp.stop().catch(() => {});
  if (stack.cp) await stack.cp.stop().catch((e) => { process.stderr.write(`control plane stop: ${e.message}\n`); });
  if (stack.fake) await stack.fake.stop().catch(() => {});
}
