// gRPC over TLS between the parts (DESIGN.md: data planes authenticate with their token, "and
// mTLS where configured"). Config pushes carry the providers' real keys, so a control plane
// reached over a network serves its gRPC port with a certificate; data planes and the CLI check it
// against a CA; with a client CA, every caller must also present a certificate that CA signed.
//
// The certificates are made here with the openssl CLI: a throwaway CA (and a second one that
// signed nothing the servers trust), valid for a day.
//
// Run: cd tests && LLMPROXY_BIN_DIR=<build>/bin node --test grpc_tls.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { binDir, run, startControlplane } from './lib/controlplane.mjs';
import { startDataplane, findId } from './lib/dataplane.mjs';
import { startFakeUpstream } from './lib/fake_upstream.mjs';

const OPENAI_KEY = 'sk-real-openai-tls-0123456789';
const VKEY = `sk-lp-tls${'0'.repeat(45)}`;
// What `llm-proxy` exits with when a call fails UNAVAILABLE (10 + gRPC code 14).
const EXIT_UNAVAILABLE = 24;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmproxy-tls-'));
const file = (name) => path.join(tmp, name);

async function openssl(args) {
  const r = await run('openssl', args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** A P-256 key and a certificate for it signed by `ca` (or self-signed when ca is null). */
async function makeCert(name, { ca = null, cn = name, san = null } = {}) {
  const key = file(`${name}.key`);
  const crt = file(`${name}.crt`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', `/CN=${cn}`];
  if (!ca) {
    await openssl(['req', '-x509', ...ec, '-out', crt, '-days', '1']);
    return { key, crt };
  }
  const csr = file(`${name}.csr`);
  await openssl(['req', ...ec, '-out', csr]);
  const ext = file(`${name}.ext`);
  fs.writeFileSync(ext, san ? `subjectAltName=${san}\n` : 'basicConstraints=CA:FALSE\n');
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial',
    '-out', crt, '-days', '1', '-extfile', ext]);
  return { key, crt };
}

const certs = {};
before(async () => {
  certs.ca = await makeCert('ca', { cn: 'llm-proxy test CA' });
  certs.otherCa = await makeCert('other-ca', { cn: 'a CA nobody trusts' });
  certs.server = await makeCert('server', { ca: certs.ca, cn: 'localhost', san: 'DNS:localhost,DNS:controlplane.test,IP:127.0.0.1' });
  certs.client = await makeCert('client', { ca: certs.ca, cn: 'dataplane-1' });
  certs.strangerClient = await makeCert('stranger', { ca: certs.otherCa, cn: 'dataplane-x' });
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const serverTls = () => ['--grpc-tls-cert', certs.server.crt, '--grpc-tls-key', certs.server.key];
const cliTls = () => ['--tls-ca', certs.ca.crt];
const cliMutualTls = () => [...cliTls(), '--tls-cert', certs.client.crt, '--tls-key', certs.client.key];

/** Runs the CLI with -o json; throws on failure. */
async function cliOk(cp, tlsArgs, args) {
  const r = await cp.cli([...tlsArgs, '-o', 'json', ...args]);
  assert.equal(r.code, 0, `llm-proxy ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return r.json ?? r.stdout;
}

/** A connection to the fake upstream, a model on it and a virtual key for the connection. */
async function configure(cp, tlsArgs, fake) {
  const conn = findId(await cliOk(cp, tlsArgs, ['connection', 'add', '--name', 'tls-openai', '--provider', 'openai',
    '--endpoint', fake.openaiEndpoint, '--api-key', OPENAI_KEY]), 'cn_');
  await cliOk(cp, tlsArgs, ['model', 'add', '--name', 'tls-chat', '--remote', 'gpt-4o-mini', '--conn-id', conn]);
  return findId(await cliOk(cp, tlsArgs, ['vkey', 'add', '--name', 'tls-key', '--key', VKEY, '--conn-id', conn]), 'vk_');
}

async function chat(dp) {
  const res = await fetch(`${dp.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${VKEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tls-chat', messages: [{ role: 'user', content: 'over tls' }], max_tokens: 3 }),
    signal: AbortSignal.timeout(20000),
  });
  return { status: res.status, text: await res.text() };
}

/**
 * Starts a data plane against `cp` (a control plane, or an address) with `tlsArgs` and asserts it
 * stays unready (no config) for 3 s, and that its `config stream closed` lines carry `hint` (a
 * string), or none when `hint` is null.
 */
async function assertGetsNoConfig(cp, tlsArgs, hint) {
  const where = typeof cp === 'string' ? { controlplaneAddress: cp } : { controlplane: cp };
  const dp = await startDataplane({ ...where, waitReady: false, extraArgs: tlsArgs });
  try {
    await sleep(3000);
    assert.ok(dp.isRunning(), `the data plane exited:\n${dp.log().slice(-2000)}`);
    const res = await fetch(`${dp.adminUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
    assert.notEqual(res.status, 200, 'ready without config: it reached the control plane');
    const closed = dp.log().split('\n').filter((l) => l.includes('"msg":"config stream closed"'))
      .map((l) => JSON.parse(l));
    assert.ok(closed.length > 0, `no "config stream closed" line:\n${dp.log().slice(-2000)}`);
    for (const line of closed) assert.equal(line.hint, hint ?? undefined, JSON.stringify(line));
  } finally {
    await dp.stop();
  }
}

describe('a control plane serving gRPC over TLS', () => {
  let fake;
  let cp;
  let vkeyId;
  before(async () => {
    fake = await startFakeUpstream({ apiKeys: [OPENAI_KEY] });
    cp = await startControlplane({ extraArgs: serverTls() });
    vkeyId = await configure(cp, cliTls(), fake);
  });
  after(async () => {
    await cp?.stop();
    await fake?.stop();
  });

  test('says so in its start line', () => {
    assert.match(cp.log(), /"msg":"llm-proxy-controlplane started".*"grpc_tls":"on"/);
  });

  test('the CLI administers it, checking its certificate against --tls-ca', async () => {
    const list = await cliOk(cp, cliTls(), ['connection', 'list']);
    assert.match(JSON.stringify(list), /tls-openai/);
  });

  test('a plain-text CLI call fails UNAVAILABLE and says to add --tls', async () => {
    const r = await cp.cli(['connection', 'list']);
    assert.equal(r.code, EXIT_UNAVAILABLE, r.stderr);
    assert.match(r.stderr, /^error: UNAVAILABLE: .*; if it serves TLS, add --tls \(or --tls-ca\)\n$/);
  });

  test("logs a failed handshake as a JSON line like every other line (gRPC's own included)", async () => {
    await cp.cli(['connection', 'list']);  // plain text against TLS
    for (let i = 0; i < 50 && !/Handshake failed/.test(cp.log()); i++) await sleep(100);
    const lines = cp.log().trim().split('\n');
    const parsed = lines.map((line) => {
      try { return JSON.parse(line); } catch { assert.fail(`not a JSON line: ${line}`); }
    });
    assert.ok(parsed.some((l) => l.source === 'grpc' && l.level === 'error' && /Handshake failed/.test(l.msg)),
      `no handshake failure logged:\n${cp.log().slice(-2000)}`);
  });

  test('a certificate the given CA did not sign is refused, in one line that says what to check', async () => {
    const r = await cp.cli(['--tls-ca', certs.otherCa.crt, 'connection', 'list']);
    assert.equal(r.code, EXIT_UNAVAILABLE, r.stderr);
    assert.match(r.stderr, /^error: UNAVAILABLE: .*certificate verify failed.*give the CA that signed its certificate with --tls-ca\n$/);
  });

  test('--tls-server-name checks the certificate for that name instead of the address', async () => {
    const named = await cp.cli([...cliTls(), '--tls-server-name', 'controlplane.test', 'connection', 'list']);
    assert.equal(named.code, 0, named.stderr);
    const wrong = await cp.cli([...cliTls(), '--tls-server-name', 'elsewhere.test', 'connection', 'list']);
    assert.equal(wrong.code, EXIT_UNAVAILABLE, wrong.stderr);
  });

  test("the system's CA store does not vouch for a private CA", async () => {
    const r = await cp.cli(['--tls', 'connection', 'list']);
    assert.equal(r.code, EXIT_UNAVAILABLE, r.stderr);
  });

  test('a data plane with --controlplane-tls-ca gets the config, proxies and reports usage', async () => {
    const dp = await startDataplane({ controlplane: cp, extraArgs: ['--controlplane-tls-ca', certs.ca.crt] });
    try {
      assert.match(dp.log(), /"controlplane_tls":"on"/);
      const r = await chat(dp);
      assert.equal(r.status, 200, r.text);
      // The fake saw the real key, so the config (with the provider key) came over TLS.
      assert.equal((await fake.lastRequest()).headers.authorization, `Bearer ${OPENAI_KEY}`);
      // Usage goes back over its own TLS channel.
      let rows = [];
      for (let i = 0; i < 100 && !(Number(rows[0]?.requests) >= 1); i++) {
        await sleep(100);
        rows = (await cliOk(cp, cliTls(), ['usage', '--vkey-id', vkeyId, '--from', '-1h'])).rows ?? [];
      }
      assert.equal(Number(rows[0]?.requests), 1, `usage rows: ${JSON.stringify(rows)}`);
    } finally {
      await dp.stop();
    }
  });

  test('a plain-text data plane gets no config and its log says to add --controlplane-tls', async () => {
    await assertGetsNoConfig(cp, [], 'if it serves TLS, add --controlplane-tls (or --controlplane-tls-ca)');
  });

  test('a data plane checking against another CA gets no config and its log says to give the CA', async () => {
    await assertGetsNoConfig(cp, ['--controlplane-tls-ca', certs.otherCa.crt],
      'give the CA that signed its certificate with --controlplane-tls-ca');
  });
});

describe('a control plane asking for client certificates (mutual TLS)', () => {
  let fake;
  let cp;
  before(async () => {
    fake = await startFakeUpstream({ apiKeys: [OPENAI_KEY] });
    cp = await startControlplane({ extraArgs: [...serverTls(), '--grpc-tls-client-ca', certs.ca.crt] });
    await configure(cp, cliMutualTls(), fake);
  });
  after(async () => {
    await cp?.stop();
    await fake?.stop();
  });

  test('says so in its start line', () => {
    assert.match(cp.log(), /"grpc_tls":"mutual"/);
  });

  test('a data plane with a certificate the client CA signed gets the config and proxies', async () => {
    const dp = await startDataplane({
      controlplane: cp,
      extraArgs: ['--controlplane-tls-ca', certs.ca.crt,
        '--controlplane-tls-cert', certs.client.crt, '--controlplane-tls-key', certs.client.key],
    });
    try {
      const r = await chat(dp);
      assert.equal(r.status, 200, r.text);
    } finally {
      await dp.stop();
    }
  });

  test('a data plane without a client certificate gets no config and its log says to add one', async () => {
    await assertGetsNoConfig(cp, ['--controlplane-tls-ca', certs.ca.crt],
      'if it asks for a client certificate, add --controlplane-tls-cert and --controlplane-tls-key');
  });

  test('a data plane whose certificate another CA signed gets no config', async () => {
    // It has all the flags; what is wrong is the certificate, which the control plane's log says.
    await assertGetsNoConfig(cp, ['--controlplane-tls-ca', certs.ca.crt,
      '--controlplane-tls-cert', certs.strangerClient.crt, '--controlplane-tls-key', certs.strangerClient.key], null);
  });

  test('the CLI without a client certificate fails UNAVAILABLE and says to add one', async () => {
    const r = await cp.cli([...cliTls(), 'connection', 'list']);
    assert.equal(r.code, EXIT_UNAVAILABLE, r.stderr);
    assert.match(r.stderr, /^error: UNAVAILABLE: .*; if it asks for a client certificate, add --tls-cert and --tls-key\n$/);
  });

  test('the CLI with a certificate another CA signed is refused', async () => {
    const r = await cp.cli([...cliTls(), '--tls-cert', certs.strangerClient.crt, '--tls-key', certs.strangerClient.key,
      'connection', 'list']);
    assert.equal(r.code, EXIT_UNAVAILABLE, r.stderr);
  });
});

describe('a data plane whose control plane is not listening', () => {
  test('gets no config and its log gives no TLS hint (the connection is refused)', async () => {
    await assertGetsNoConfig('127.0.0.1:1', [], null);
  });
});

describe('plain-text gRPC beyond loopback', () => {
  // The database URL is refused after the transport is checked, so these runs stop before
  // anything listens on a public address.
  const startOnAllInterfaces = (args) => run(path.join(binDir(), 'llm-proxy-controlplane'),
    ['--grpc-address=0.0.0.0:0', '--http-address=127.0.0.1:0', '--admin-token=adm-tls-test',
      '--database-url=mysql://unsupported/x', ...args], { timeoutMs: 15000 });

  test('the control plane warns that tokens and provider keys would cross the network unencrypted', async () => {
    const r = await startOnAllInterfaces([]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /"level":"warn","msg":"gRPC is plain text on a non-loopback address: tokens and the provider keys/);
  });

  test('and does not with TLS', async () => {
    const r = await startOnAllInterfaces(serverTls());
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot open the database/);
    assert.doesNotMatch(r.stderr, /plain text/);
  });
});

describe('TLS settings that cannot work stop the start (exit 2), naming the file, never its content', () => {
  const sqlite = () => `--database-url=sqlite://${file(`db-${Math.random()}`)}/cp.db`;
  const controlplane = (args) => run(path.join(binDir(), 'llm-proxy-controlplane'),
    ['--grpc-address=127.0.0.1:0', '--http-address=127.0.0.1:0', sqlite(), ...args], { timeoutMs: 15000 });
  const dataplane = (args) => run(path.join(binDir(), 'llm-proxy-dataplane'),
    ['--listen-address=127.0.0.1:0', '--admin-address=127.0.0.1:0', `--snapshot-path=${file(`dp-${Math.random()}`)}/s.bin`,
      ...args], { timeoutMs: 15000 });
  const cli = (args) => run(path.join(binDir(), 'llm-proxy'), ['--server', '127.0.0.1:1', ...args], { timeoutMs: 15000 });

  function assertRefused(r, reason) {
    assert.equal(r.code, 2, `exit code ${r.code}, stderr:\n${r.stderr}`);
    assert.match(r.stderr, reason);
    // No key material in the message, whatever went wrong.
    for (const name of ['server', 'client', 'ca']) {
      const pem = fs.readFileSync(file(`${name}.key`), 'utf8').split('\n')[1];
      assert.ok(!r.stderr.includes(pem), `the content of ${name}.key is in the output`);
    }
  }

  test('control plane: a certificate without its key', async () => {
    assertRefused(await controlplane(['--grpc-tls-cert', certs.server.crt]), /give both or neither/);
  });

  test('control plane: a key without its certificate', async () => {
    assertRefused(await controlplane(['--grpc-tls-key', certs.server.key]), /give both or neither/);
  });

  test('control plane: a client CA without TLS', async () => {
    assertRefused(await controlplane(['--grpc-tls-client-ca', certs.ca.crt]), /mutual TLS\) need TLS/);
  });

  test('control plane: a key that belongs to another certificate', async () => {
    assertRefused(await controlplane(['--grpc-tls-cert', certs.server.crt, '--grpc-tls-key', certs.client.key]),
      /private key in .*client\.key does not belong to the certificate in .*server\.crt/);
  });

  test('control plane: a certificate file that does not exist', async () => {
    assertRefused(await controlplane(['--grpc-tls-cert', file('missing.crt'), '--grpc-tls-key', certs.server.key]),
      /cannot read the certificate file .*missing\.crt/);
  });

  test('control plane: a key file that holds a certificate', async () => {
    assertRefused(await controlplane(['--grpc-tls-cert', certs.server.crt, '--grpc-tls-key', certs.server.crt]),
      /server\.crt holds no unencrypted PEM private key/);
  });

  test('control plane: a certificate file that holds a key', async () => {
    assertRefused(await controlplane(['--grpc-tls-cert', certs.server.key, '--grpc-tls-key', certs.server.key]),
      /server\.key holds no valid PEM certificate/);
  });

  test('control plane: a client CA file that is not PEM', async () => {
    const junk = file('junk.pem');
    fs.writeFileSync(junk, 'not a certificate\n');
    assertRefused(await controlplane([...serverTls(), '--grpc-tls-client-ca', junk]),
      /client CA file .*junk\.pem holds no valid PEM certificate/);
  });

  test('data plane: a client certificate without its key', async () => {
    assertRefused(await dataplane(['--controlplane-tls-cert', certs.client.crt]), /give both or neither/);
  });

  test('data plane: a CA file that does not exist', async () => {
    assertRefused(await dataplane(['--controlplane-tls-ca', file('missing-ca.crt')]), /cannot read the CA file/);
  });

  test('CLI: a CA "file" that is a directory', async () => {
    fs.mkdirSync(file('ca-dir'), { recursive: true });
    assertRefused(await cli(['--tls-ca', file('ca-dir'), 'connection', 'list']),
      /cannot read the CA file .*ca-dir: Is a directory/);
  });

  test('CLI: a CA file over 1 MiB (not a PEM file; not read whole into memory)', async () => {
    fs.writeFileSync(file('huge.pem'), Buffer.alloc(2 << 20, 'A'));
    assertRefused(await cli(['--tls-ca', file('huge.pem'), 'connection', 'list']), /huge\.pem is over 1 MiB/);
  });

  test('CLI: a client key that belongs to another certificate', async () => {
    assertRefused(await cli(['--tls-cert', certs.client.crt, '--tls-key', certs.server.key, 'connection', 'list']),
      /does not belong to the certificate/);
  });
});
