// Both servers refuse to start on settings that would be unsafe or cannot
// work, with exit code 2 and a log line that says why and names no secret.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { binDir, run } from './lib/controlplane.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmproxy-startup-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const controlplane = (args) =>
  run(path.join(binDir(), 'llm-proxy-controlplane'),
    ['--http-address=127.0.0.1:0', ...args], { timeoutMs: 15000 });
const dataplane = (args) =>
  run(path.join(binDir(), 'llm-proxy-dataplane'),
    ['--listen-address=127.0.0.1:0', '--admin-address=127.0.0.1:0', ...args], { timeoutMs: 15000 });

function assertRefused(r, reason) {
  assert.equal(r.code, 2, `exit code ${r.code}, stderr:\n${r.stderr}`);
  assert.match(r.stderr, reason);
}

describe('llm-proxy-controlplane refuses to start', () => {
  const sqlite = () => `--database-url=sqlite://${path.join(tmp, `db-${Math.random()}`, 'cp.db')}`;

  test('on a non-loopback gRPC address without an admin token', async () => {
    const r = await controlplane(['--grpc-address=0.0.0.0:0', sqlite()]);
    assertRefused(r, /not a loopback address and no --admin-token/);
  });

  test('with a database URL of an unknown scheme, without echoing its password', async () => {
    const r = await controlplane(['--grpc-address=127.0.0.1:0', '--database-url=mysql://root:hunter2@db/x']);
    assertRefused(r, /cannot open the database/);
    assert.doesNotMatch(r.stderr, /hunter2/);
  });

  test('on PostgreSQL without an encryption key', async () => {
    // Port 1: nothing listens; the key is checked after the URL is understood.
    const r = await controlplane(['--grpc-address=127.0.0.1:0',
      '--database-url=postgresql://postgres:pw-secret@127.0.0.1:1/x']);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /pw-secret/);
  });

  test('with encryption key material of the wrong size, without echoing it', async () => {
    const r = await controlplane(['--grpc-address=127.0.0.1:0', sqlite(), '--encryption-key=too-short-key-material']);
    assertRefused(r, /encryption key must be 32 bytes/);
    assert.doesNotMatch(r.stderr, /too-short-key-material/);
  });

  test('with an unknown log level', async () => {
    const r = await controlplane(['--grpc-address=127.0.0.1:0', sqlite(), '--log-level=loud']);
    assertRefused(r, /log-level/);
  });

  test('on an unknown flag', async () => {
    const r = await controlplane(['--no-such-flag']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no-such-flag/);
  });
});

describe('llm-proxy-dataplane refuses to start', () => {
  test('on an unknown flag', async () => {
    const r = await dataplane(['--no-such-flag']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no-such-flag/);
  });

  test('with encryption key material of the wrong size, without echoing it', async () => {
    const r = await dataplane([`--snapshot-path=${path.join(tmp, 'dp', 'snap.bin')}`,
      '--encryption-key=too-short-key-material', '--controlplane-address=127.0.0.1:1']);
    assert.notEqual(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /too-short-key-material/);
  });
});
