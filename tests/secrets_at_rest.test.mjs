// Secrets at rest: after a provider api key X and a virtual key K are created through the CLI,
// a dump of the whole database (SQLite and PostgreSQL) contains neither X nor K, but does contain
// the SHA-256 of K (that is how the data plane recognises it). The control plane's log holds
// neither either.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { run, startControlplane } from './lib/controlplane.mjs';

const T = { timeout: 90000 };

/** Creates a connection with a fresh api key and a virtual key; returns {apiKey, vkey, vkeyHash}. */
async function createSecrets(cp) {
  const apiKey = `sk-proj-AtRest${crypto.randomBytes(16).toString('hex')}`;
  const c = await cp.cli(['-o', 'json', 'connection', 'add', '--name', `secret-${process.pid}`, '--provider', 'openai', '--endpoint', 'https://api.openai.com/v1', '--api-key', apiKey]);
  assert.equal(c.code, 0, c.stderr);
  const v = await cp.cli(['-o', 'json', 'vkey', 'add', '--name', `vk-${process.pid}`, '--conn-id', c.json.id, '--tps', '1']);
  assert.equal(v.code, 0, v.stderr);
  const vkey = v.json.virtual_key.key;
  assert.match(vkey, /^sk-lp-[A-Za-z0-9]{48}$/);
  // A second key chosen by the operator must be protected the same way.
  const given = `sk-lp-given${crypto.randomBytes(12).toString('hex')}`;
  const g = await cp.cli(['-o', 'json', 'vkey', 'add', '--name', `vk2-${process.pid}`, '--key', given]);
  assert.equal(g.code, 0, g.stderr);
  const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
  return { apiKey, keys: [vkey, given], hashes: [sha(vkey), sha(given)], connectionName: c.json.name };
}

function assertNoSecrets(where, text, { apiKey, keys }) {
  assert.ok(!text.includes(apiKey), `${where} holds the provider api key in plain text`);
  // Also no long piece of it (e.g. a key stored minus a prefix).
  assert.ok(!text.includes(apiKey.slice(-24)), `${where} holds the tail of the provider api key`);
  for (const k of keys) {
    assert.ok(!text.includes(k), `${where} holds a virtual key in plain text`);
    assert.ok(!text.includes(k.slice(6)), `${where} holds a virtual key without its prefix`);
  }
}

function assertHashes(where, text, { hashes, connectionName }) {
  // The rows are there (so the absence of the secrets above means something).
  assert.ok(text.includes(connectionName), `${where} lacks the connection row`);
  for (const h of hashes) {
    assert.ok(text.toLowerCase().includes(h), `${where} lacks the SHA-256 ${h} of a virtual key`);
  }
}

describe('secrets at rest', () => {
  test('SQLite: the database file and its dump hold no api key or virtual key, only its hash', T, async () => {
    const probe = await run('sqlite3', ['-version']);
    const cp = await startControlplane();
    let stopped = false;
    try {
      const secrets = await createSecrets(cp);
      await cp.stop({ removeDir: false });
      stopped = true;

      if (probe.code === 0) {
        const dump = await run('sqlite3', [cp.sqlitePath, '.dump']);
        assert.equal(dump.code, 0, dump.stderr);
        assert.match(dump.stdout, /CREATE TABLE/);
        assertNoSecrets('sqlite3 .dump', dump.stdout, secrets);
        assertHashes('sqlite3 .dump', dump.stdout, secrets);
      }
      // The raw bytes too (database, WAL and journal files): a dump shows live rows only.
      const dir = path.dirname(cp.sqlitePath);
      let raw = '';
      for (const f of fs.readdirSync(dir)) {
        const p = path.join(dir, f);
        if (fs.statSync(p).isFile()) raw += fs.readFileSync(p).toString('latin1');
      }
      assertNoSecrets('the SQLite files', raw, secrets);
      if (probe.code !== 0) assertHashes('the SQLite files', raw, secrets);
      assertNoSecrets('the control plane log', cp.log(), secrets);
    } finally {
      if (!stopped) await cp.stop().catch(() => {});
      fs.rmSync(cp.dir, { recursive: true, force: true });
    }
  });

  test('PostgreSQL: pg_dump holds no api key or virtual key, only its hash', T, async () => {
    const cp = await startControlplane({ database: 'postgres' });
    try {
      const secrets = await createSecrets(cp);
      const dump = await run('pg_dump', ['--no-owner', '--no-privileges', cp.databaseUrl], { timeoutMs: 60000 });
      assert.equal(dump.code, 0, dump.stderr);
      assert.match(dump.stdout, /CREATE TABLE/);
      assertNoSecrets('pg_dump', dump.stdout, secrets);
      assertHashes('pg_dump', dump.stdout, secrets);
      assertNoSecrets('the control plane log', cp.log(), secrets);
    } finally {
      await cp.stop();
    }
  });
});
