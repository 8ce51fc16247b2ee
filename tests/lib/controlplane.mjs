// Starts the real `llm-proxy-controlplane` (from $LLMPROXY_BIN_DIR) as a process on free 127.0.0.1
// ports, with its own temp dir, database, admin token and encryption key; waits for /readyz; stops
// it with SIGTERM and checks that it exited cleanly. Also runs the admin CLI `llm-proxy` against it.
//
//   const cp = await startControlplane();                       // SQLite in a temp dir
//   const cp = await startControlplane({ database: 'postgres' }); // fresh PostgreSQL database
//   cp.grpcAddress  -> "127.0.0.1:<port>"     cp.httpUrl -> "http://127.0.0.1:<port>"
//   cp.adminToken, cp.dataplaneToken, cp.encryptionKey, cp.databaseUrl, cp.dir, cp.log()
//   const r = await cp.cli(['connection', 'list', '-o', 'json']);  // {code, stdout, stderr, json}
//   await cp.restart();   // same database, keys and tokens; new ports
//   await cp.stop();      // SIGTERM; rejects unless the exit was clean (code 0)
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const READY_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 15000;
const LOG_LIMIT = 4 * 1024 * 1024;

// Every process started here, killed hard if the test process exits without stopping it (an
// assertion failed before the after() hook, a crash): nothing outlives the test file.
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// freePort's port can be taken before the server binds it: another test's outgoing connection
// picks its local port from the same range. A start that fails for that reason is retried on
// fresh ports (here and in tests/lib/dataplane.mjs).
export const PORT_RACE_ATTEMPTS = 3;

/** Whether a server's output says it could not bind its port. */
export function lostPortRace(output) {
  return /cannot listen|Address already in use/.test(output);
}

/** The build's bin directory. */
export function binDir() {
  const dir = process.env.LLMPROXY_BIN_DIR;
  if (!dir) throw new Error("LLMPROXY_BIN_DIR is not set (the build's bin directory)");
  return dir;
}

/** The environment for a child: ours without LLMPROXY_* settings (they would leak into flags). */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('LLMPROXY_')) env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs a program; resolves {code, signal, stdout, stderr} whatever the exit code. */
export function run(file, args, { env = cleanEnv(), timeoutMs = 30000, input } = {}) {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      live.delete(child);
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
        signal: err?.signal ?? null,
        stdout,
        stderr: err && typeof err.code !== 'number' && !err.signal ? `${stderr}${err.message}` : stderr,
      });
    });
    live.add(child);
    if (input !== undefined) child.stdin.end(input);
  });
}

/** The PostgreSQL server URL the test harness started (file named by LLMPROXY_TEST_PG_URL_FILE). */
export function postgresServerUrl() {
  const file = process.env.LLMPROXY_TEST_PG_URL_FILE;
  if (!file) throw new Error('LLMPROXY_TEST_PG_URL_FILE is not set (run scripts/test_postgres.sh start DIR)');
  return fs.readFileSync(file, 'utf8').trim();
}

/** Creates a fresh, uniquely named database on the test PostgreSQL server; resolves its URL. */
export async function createPostgresDatabase(prefix = 'llmproxy_test') {
  const server = new URL(postgresServerUrl());
  const name = `${prefix}_${crypto.randomBytes(6).toString('hex')}`;
  const r = await run('psql', [server.toString(), '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE DATABASE ${name}`]);
  if (r.code !== 0) throw new Error(`CREATE DATABASE ${name} failed: ${r.stderr}`);
  const url = new URL(server.toString());
  url.pathname = `/${name}`;
  return url.toString();
}

async function waitReady(cp) {
  const url = `${cp.httpUrl}/readyz`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    if (cp.exited) throw new Error(`control plane exited (${cp.exited.code ?? cp.exited.signal}) before it was ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      last = `${res.status} ${(await res.text()).slice(0, 200)}`;
      if (res.status === 200) return;
    } catch (e) {
      last = String(e?.cause?.code ?? e?.message ?? e);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready within ${READY_TIMEOUT_MS} ms (last: ${last})`);
}

async function launch(cp) {
  for (let attempt = 1; ; attempt++) {
    const logFrom = cp.logText.length;
    try {
      await launchOnce(cp);
      return;
    } catch (e) {
      if (attempt >= PORT_RACE_ATTEMPTS || !lostPortRace(cp.logText.slice(logFrom))) throw e;
    }
  }
}

async function launchOnce(cp) {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const args = [
    `--grpc-address=127.0.0.1:${grpcPort}`,
    `--http-address=127.0.0.1:${httpPort}`,
    `--database-url=${cp.databaseUrl}`,
    `--log-level=${cp.options.logLevel ?? 'info'}`,
    ...(cp.options.extraArgs ?? []),
  ];
  // Secrets travel in the environment (their documented twins), not in argv where `ps` shows them.
  const env = cleanEnv({
    LLMPROXY_ENCRYPTION_KEY: cp.encryptionKey,
    ...(cp.adminToken ? { LLMPROXY_ADMIN_TOKEN: cp.adminToken } : {}),
    ...(cp.dataplaneToken ? { LLMPROXY_DATAPLANE_TOKEN: cp.dataplaneToken } : {}),
    ...(cp.options.env ?? {}),
  });
  const child = spawn(path.join(binDir(), 'llm-proxy-controlplane'), args, { cwd: cp.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  cp.proc = child;
  cp.exited = null;
  cp.grpcPort = grpcPort;
  cp.httpPort = httpPort;
  cp.grpcAddress = `127.0.0.1:${grpcPort}`;
  cp.httpUrl = `http://127.0.0.1:${httpPort}`;
  const append = (chunk) => {
    if (cp.logText.length < LOG_LIMIT) cp.logText += chunk.toString('utf8');
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  cp.exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      cp.exited = { code, signal };
      resolve(cp.exited);
    });
    child.on('error', (e) => {
      live.delete(child);
      cp.exited = { code: null, signal: null, error: e };
      resolve(cp.exited);
    });
  });
  try {
    await waitReady(cp);
  } catch (e) {
    await kill(cp);
    throw new Error(`${e.message}\n--- control plane log ---\n${cp.logText.slice(-5000)}`);
  }
}

async function kill(cp) {
  if (cp.exited || !cp.proc) return;
  cp.proc.kill('SIGKILL');
  await cp.exitPromise;
}

/**
 * Starts a control plane.
 * options:
 *   database        'sqlite' (default) or 'postgres' (a fresh database on the test server)
 *   databaseUrl     use this database instead (e.g. to share one between runs)
 *   adminToken      default: random; pass '' for none (loopback dev mode)
 *   dataplaneToken  default: random; '' for none
 *   encryptionKey   default: random 64 hex
 *   dir             working/temp dir (default: a fresh one, removed by stop())
 *   extraArgs, env, logLevel
 */
export async function startControlplane(options = {}) {
  const ownDir = !options.dir;
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'llmproxy-cp-'));
  let databaseUrl = options.databaseUrl;
  if (!databaseUrl) {
    databaseUrl = options.database === 'postgres' ? await createPostgresDatabase() : `sqlite://${path.join(dir, 'llm-proxy.db')}`;
  }
  const cp = {
    options,
    dir,
    databaseUrl,
    sqlitePath: databaseUrl.startsWith('sqlite://') ? databaseUrl.slice('sqlite://'.length) : null,
    adminToken: options.adminToken ?? `adm-${crypto.randomBytes(16).toString('hex')}`,
    dataplaneToken: options.dataplaneToken ?? `dpt-${crypto.randomBytes(16).toString('hex')}`,
    encryptionKey: options.encryptionKey ?? crypto.randomBytes(32).toString('hex'),
    logText: '',
    log() {
      return cp.logText;
    },
    /** Runs `llm-proxy` against this control plane with its admin token (override with {token}). */
    cli(args, opts = {}) {
      return runCli(cp.grpcAddress, opts.token === undefined ? cp.adminToken : opts.token, args, opts);
    },
    /** SIGTERM; rejects unless the process exits with code 0 within the time limit. */
    async stop({ requireClean = true, removeDir = ownDir } = {}) {
      let result = cp.exited;
      if (!result && cp.proc) {
        cp.proc.kill('SIGTERM');
        let handle;
        const timer = new Promise((r) => { handle = setTimeout(() => r(null), STOP_TIMEOUT_MS); });
        result = await Promise.race([cp.exitPromise, timer]);
        clearTimeout(handle); // a pending timer would keep the test process alive
        if (!result) {
          await kill(cp);
          throw new Error(`control plane did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM\n${cp.logText.slice(-3000)}`);
        }
      }
      if (removeDir) fs.rmSync(dir, { recursive: true, force: true });
      if (requireClean && result && result.code !== 0) {
        throw new Error(`control plane exited uncleanly (${JSON.stringify(result)})\n${cp.logText.slice(-3000)}`);
      }
      return result;
    },
    /** Stops (cleanly) and starts again on the same database with the same secrets. */
    async restart() {
      await cp.stop({ removeDir: false });
      await launch(cp);
      return cp;
    },
  };
  await launch(cp);
  return cp;
}

// The spelling tests/lib/dataplane.mjs also looks for.
export const startControlPlane = startControlplane;
export default startControlplane;

/**
 * Runs the admin CLI against `server`. Resolves {code, stdout, stderr, json}; json is the parsed
 * stdout when it is JSON. Never rejects on a non-zero exit: refusals are what some tests check.
 */
export async function runCli(server, token, args, { env = {}, timeoutMs = 20000 } = {}) {
  const full = ['--server', server, ...args];
  const childEnv = cleanEnv({ ...(token ? { LLMPROXY_ADMIN_TOKEN: token } : {}), ...env });
  const r = await run(path.join(binDir(), 'llm-proxy'), full, { env: childEnv, timeoutMs });
  let json;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}
