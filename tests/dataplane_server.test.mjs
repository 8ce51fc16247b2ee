// The data plane's HTTP server itself: routes and methods, timeouts that stop
// a slow or idle client from holding a connection, graceful shutdown that
// lets a stream in flight finish, and HTTPS upstreams verified against the
// CA store.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { findId, startStack } from './lib/dataplane.mjs';

const MASTER = 'sk-master-server-test-000000000000000000';
let S;
let tls;

// A CA and a server certificate for "localhost" (not for 127.0.0.1), made
// with the openssl CLI in a temp dir.
function makeCertificates() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmproxy-tls-'));
  const sh = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=llm-proxy test CA',
    '-keyout', 'ca.key', '-out', 'ca.pem']);
  sh(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\n');
  sh(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.pem']);
  return { dir, ca: path.join(dir, 'ca.pem'), key: fs.readFileSync(path.join(dir, 'server.key')), cert: fs.readFileSync(path.join(dir, 'server.pem')) };
}

// A minimal OpenAI chat endpoint over HTTPS.
async function startHttpsUpstream(certs) {
  const server = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'chatcmpl-tls', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'over tls' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

async function chat(base, model, extra = {}) {
  return fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
  });
}

// chat() once the data plane has the model (a 404 means its config has not
// arrived yet).
async function chatWhenConfigured(base, model, extra = {}) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const r = await chat(base, model, extra);
    if (r.status !== 404 || Date.now() > deadline) return r;
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

// Resolves the ms until the server closed a raw connection on which `feed`
// writes (or nothing is written); rejects after `limitMs`.
function closedWithin(port, limitMs, feed = () => {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`still open after ${limitMs} ms`)); }, limitMs);
    socket.on('connect', () => feed(socket));
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolve(Date.now() - started); });
  });
}

before(async () => {
  tls = makeCertificates();
  tls.server = await startHttpsUpstream(tls);
  const tlsPort = tls.server.address().port;
  S = await startStack({ dataplane: { masterKey: MASTER, idleTimeoutMs: 1000, env: { SSL_CERT_FILE: tls.ca } } });
  const fakeUrl = `http://127.0.0.1:${S.fake.port}/v1`;
  const conn = (name, endpoint) => S.cli(['connection', 'add', '--name', name, '--provider', 'openai', '--endpoint', endpoint, '--api-key', 'sk-upstream-000000000000']);
  const model = async (name, remote, c) => S.cli(['model', 'add', '--name', name, '--remote', remote, '--conn-id', findId(c, 'cn_')]);
  const fake = await conn('fake', fakeUrl);
  await model('plain', 'gpt-4o', fake);
  await model('slow-stream', 'fake-chunkdelay300', fake);
  await model('tls-ok', 'gpt-4o', await conn('tls-localhost', `https://localhost:${tlsPort}/v1`));
  await model('tls-wrong-name', 'gpt-4o', await conn('tls-by-ip', `https://127.0.0.1:${tlsPort}/v1`));
  await chatWhenConfigured(S.dp.url, 'tls-wrong-name');
});

after(async () => {
  if (S) await S.stop();
  if (tls?.server) tls.server.close();
  if (tls?.dir) fs.rmSync(tls.dir, { recursive: true, force: true });
});

describe('routes', () => {
  it('404 unknown_url for a path that is not part of the API', async () => {
    const r = await fetch(`${S.dp.url}/v2/everything`, { headers: { authorization: `Bearer ${MASTER}` } });
    assert.equal(r.status, 404);
    assert.equal((await r.json()).error.code, 'unknown_url');
  });

  it('405 with an Allow header for a wrong method', async () => {
    const r = await fetch(`${S.dp.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${MASTER}` } });
    assert.equal(r.status, 405);
    assert.match(r.headers.get('allow') ?? '', /POST/);
    assert.equal((await r.json()).error.code, 'method_not_allowed');
  });
});

// Writes `text` on a raw connection and resolves everything the server sent
// until it closed the connection or `quietMs` passed without a byte.
function rawExchange(port, text, quietMs = 1000) {
  return new Promise((resolve) => {
    let got = '';
    let timer;
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    const done = () => { clearTimeout(timer); socket.destroy(); resolve({ text: got, closed: socket.readableEnded }); };
    const quiet = () => { clearTimeout(timer); timer = setTimeout(done, quietMs); };
    socket.on('data', (d) => { got += d; quiet(); });
    socket.on('end', done);
    socket.on('error', done);
    quiet();
  });
}

describe('raw HTTP', () => {
  it('400 invalid_request_error for a malformed header, then the connection is closed', async () => {
    const r = await rawExchange(S.dp.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 400 /);
    assert.match(r.text, /Malformed HTTP request/);
    assert.match(r.text, /"type":\s*"invalid_request_error"/);
    assert.ok(r.closed, 'the connection stays open after a malformed request');
  });

  it('answers "Expect: 100-continue" with 100 Continue, then the response', async () => {
    const body = JSON.stringify({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] });
    const socket = net.connect(S.dp.port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => { got += d; });
    await new Promise((ok) => socket.on('connect', ok));
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${MASTER}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`);
    // The body goes only once the interim answer is there, as curl does.
    for (const deadline = Date.now() + 5000; !got.includes('\r\n\r\n'); ) {
      assert.ok(Date.now() < deadline, `no 100 Continue, got ${JSON.stringify(got)}`);
      await new Promise((ok) => setTimeout(ok, 10));
    }
    assert.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    socket.write(body);
    for (const deadline = Date.now() + 5000; !/"chat\.completion"/.test(got); ) {
      assert.ok(Date.now() < deadline, `no answer after the body, got ${JSON.stringify(got)}`);
      await new Promise((ok) => setTimeout(ok, 10));
    }
    assert.match(got, /\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    socket.destroy();
  });
});

describe('slow and idle clients', () => {
  it('an idle keep-alive connection is closed after --idle-timeout-ms', async () => {
    const ms = await closedWithin(S.dp.port, 5000);
    assert.ok(ms >= 900, `closed after ${ms} ms, before the idle timeout`);
  });

  it('a client trickling its headers cannot hold the connection past the timeout', async () => {
    let interval;
    const ms = await closedWithin(S.dp.port, 5000, (socket) => {
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
      interval = setInterval(() => socket.write('X'), 100);
    }).finally(() => clearInterval(interval));
    assert.ok(ms < 3000, `held for ${ms} ms`);
  });
});

describe('HTTPS upstreams', () => {
  it('are verified against the CA store and used when the certificate is valid', async () => {
    const r = await chat(S.dp.url, 'tls-ok');
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal((await r.json()).choices[0].message.content, 'over tls');
  });

  it('502 upstream_connect_failed when the certificate does not name the host', async () => {
    const r = await chat(S.dp.url, 'tls-wrong-name');
    assert.equal(r.status, 502);
    assert.equal((await r.json()).error.code, 'upstream_connect_failed');
  });

  it('502 when the certificate is not signed by a trusted CA', async () => {
    const dp = await S.startExtraDataplane({ masterKey: MASTER });  // system CA store only
    try {
      const r = await chatWhenConfigured(dp.url, 'tls-ok');
      assert.equal(r.status, 502);
      assert.equal((await r.json()).error.code, 'upstream_connect_failed');
    } finally {
      await dp.stop();
    }
  });
});

// Whether this process's own cgroup (as mounted at the root, v2 or v1)
// carries a CPU limit.
function cgroupCpuLimited() {
  const read = (f) => { try { return fs.readFileSync(f, 'utf8').trim(); } catch { return ''; } };
  const v2 = read('/sys/fs/cgroup/cpu.max');
  const v1 = read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us');
  return (v2 !== '' && !v2.startsWith('max')) || (v1 !== '' && v1 !== '-1');
}

describe('I/O threads', () => {
  // The startup line's "threads" field.
  const threadsOf = async (dp) => {
    await dp.waitReady();
    const line = dp.log().split('\n').find((l) => l.includes('llm-proxy-dataplane serving'));
    assert.ok(line, dp.log());
    return Number(JSON.parse(line).threads);
  };

  it('defaults to one per CPU the process may run on', async () => {
    const all = await S.startExtraDataplane({ masterKey: MASTER, threads: 0 });
    const pinned = await S.startExtraDataplane({ masterKey: MASTER, threads: 0, launcher: ['taskset', '-c', '0'] });
    try {
      // nproc counts the CPUs this process may run on; a CPU limit on the
      // cgroup (none on CI machines) would lower the data plane's figure.
      const nproc = Number(execFileSync('nproc').toString().trim());
      const threads = await threadsOf(all);
      if (cgroupCpuLimited()) assert.ok(threads >= 1 && threads <= nproc, `${threads}`);
      else assert.equal(threads, nproc);
      assert.equal(await threadsOf(pinned), 1);
      assert.equal((await chatWhenConfigured(pinned.url, 'plain')).status, 200);
    } finally {
      await all.stop();
      await pinned.stop();
    }
  });

  it('takes --threads as given', async () => {
    const dp = await S.startExtraDataplane({ masterKey: MASTER, threads: 3 });
    try {
      assert.equal(await threadsOf(dp), 3);
    } finally {
      await dp.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM lets a stream in flight finish, then exits 0', async () => {
    const dp = await S.startExtraDataplane({ masterKey: MASTER });
    const res = await chatWhenConfigured(dp.url, 'slow-stream', { stream: true, max_tokens: 6 });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const first = await reader.read();  // the stream is under way
    assert.ok(!first.done);
    dp.process.kill('SIGTERM');
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.match(text, /data: \[DONE\]/);
    const exit = await dp.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
  });
});
