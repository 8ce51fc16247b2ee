// Config distribution end to end (issue 4): two real control-plane replicas on one PostgreSQL
// database, real data planes, config made with the admin CLI `llm-proxy`, and the fake upstream
// standing in for the provider.
//
// A data plane's config is observed through its client API: GET /v1/models with the master key
// lists every alias of the config it serves.
//
// Run: cd tests && LLMPROXY_BIN_DIR=<build>/bin LLMPROXY_TEST_PG_URL_FILE=<file> \
//        node --test config_distribution.test.mjs
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startControlplane, freePort } from './lib/controlplane.mjs';
import { startDataplane } from './lib/dataplane.mjs';
import { startFakeUpstream } from './lib/fake_upstream.mjs';

const PROVIDER_KEY = 'sk-real-provider-key-config-e2e-0001';
const MASTER_KEY = 'sk-master-config-e2e-00000000000000';
const DP_ENCRYPTION_KEY = 'ab'.repeat(32);

let fake;
let cp1;  // replica 1: admin changes go here
let cp2;  // replica 2: the data planes subscribe here
let dp;   // data plane on replica 2
let snapshotDir;
let connectionId;

/** Runs the CLI against `cp` with -o json; returns the parsed output or throws with stderr. */
async function cli(cp, args) {
  const r = await cp.cli(['-o', 'json', ...args]);
  if (r.code !== 0) throw new Error(`llm-proxy ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.json ?? r.stdout;
}

/** The aliases the data plane serves now. */
async function servedModels(plane) {
  const res = await fetch(`${plane.url}/v1/models`, {
    headers: { authorization: `Bearer ${MASTER_KEY}` },
    signal: AbortSignal.timeout(2000),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return new Set(body.data.map((m) => m.id));
}

/** Polls the data plane until `done(models)` holds; resolves the elapsed ms, rejects on timeout. */
async function waitForModels(plane, done, timeoutMs) {
  const start = performance.now();
  let last;
  while (performance.now() - start < timeoutMs) {
    last = await servedModels(plane);
    if (done(last)) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`data plane did not converge within ${timeoutMs} ms (serving: ${[...(last ?? [])].join(',')})`);
}

async function chat(plane, model) {
  const res = await fetch(`${plane.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
    signal: AbortSignal.timeout(10000),
  });
  return { status: res.status, body: await res.text() };
}

async function fleet(cp) {
  const out = await cli(cp, ['dataplanes', 'list']);
  return out.data_planes ?? [];
}

/** Sum of llmproxy_controlplane_config_pushes_total{kind="snapshot"|"delta"} on a control plane. */
async function configPushes(cp) {
  const text = await (await fetch(`${cp.httpUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^llmproxy_controlplane_config_pushes_total\{kind="(snapshot|delta)"\} (\S+)/.exec(line);
    if (m) total += Number(m[2]);
  }
  return total;
}

function startPlane(options = {}) {
  return startDataplane({
    controlplaneAddress: cp2.grpcAddress,
    dataplaneToken: cp2.dataplaneToken,
    masterKey: MASTER_KEY,
    encryptionKey: DP_ENCRYPTION_KEY,
    ...options,
  });
}

describe('config distribution across control-plane replicas', () => {
  before(async () => {
    fake = await startFakeUpstream({ apiKeys: [PROVIDER_KEY] });
    cp1 = await startControlplane({ database: 'postgres' });
    // Replica 2 shares the database and every secret, but not the revision poll: it learns of
    // replica 1's changes by LISTEN/NOTIFY (the poll stays as the fallback).
    cp2 = await startControlplane({
      databaseUrl: cp1.databaseUrl,
      adminToken: cp1.adminToken,
      dataplaneToken: cp1.dataplaneToken,
      encryptionKey: cp1.encryptionKey,
    });
    const conn = await cli(cp1, [
      'connection', 'add', '--name', 'fake', '--provider', 'openai_compatible',
      '--endpoint', `${fake.url}/v1`, '--api-key', PROVIDER_KEY,
    ]);
    connectionId = conn.id ?? conn.connection?.id;
    assert.match(connectionId, /^cn_[0-9a-f]{12}$/);
    await cli(cp1, ['model', 'add', '--name', 'base-model', '--remote', 'gpt-4o-mini', '--conn-id', connectionId]);
    snapshotDir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmproxy-cfg-e2e-'));
    dp = await startPlane({ nodeId: 'dp-cfg-e2e', snapshotDir });
    await waitForModels(dp, (m) => m.has('base-model'), 5000);
  });

  after(async () => {
    if (dp) await dp.stop().catch(() => {});
    for (const cp of [cp2, cp1]) if (cp) await cp.stop({ requireClean: false }).catch(() => {});
    if (fake) await fake.stop().catch(() => {});
    if (snapshotDir) fs.rmSync(snapshotDir, { recursive: true, force: true });
  });

  it('a change made on replica 1 reaches a data plane on replica 2 within a second', async () => {
    for (let i = 0; i < 3; i++) {
      const name = `propagated-${i}`;
      await cli(cp1, ['model', 'add', '--name', name, '--remote', 'gpt-4o-mini', '--conn-id', connectionId]);
      // Timed from the admin call's return.
      const ms = await waitForModels(dp, (m) => m.has(name), 5000);
      assert.ok(ms < 1000, `change took ${ms.toFixed(0)} ms to reach the data plane`);
    }
    const r = await chat(dp, 'propagated-2');
    assert.equal(r.status, 200, r.body);
  });

  it('shows the data plane in fleet status on both replicas, connected and in sync', async () => {
    const revision = Number((await cli(cp1, ['dataplanes', 'list'])).current_revision);
    for (const cp of [cp1, cp2]) {
      let entry;
      for (let i = 0; i < 50; i++) {
        entry = (await fleet(cp)).find((d) => d.node_id === 'dp-cfg-e2e');
        if (entry && Number(entry.acked_revision) === revision) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(entry, 'data plane missing from dataplanes list');
      assert.equal(entry.connected, true);
      assert.equal(Number(entry.acked_revision), revision);
      assert.match(entry.address, /127\.0\.0\.1:\d+|:\d+/);
      assert.ok(entry.last_contact_time, 'no last contact');
    }
  });

  it('coalesces a burst of changes into a few pushes', async () => {
    const before = await configPushes(cp2);
    const names = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
    await Promise.all(names.map((name) =>
      cli(cp1, ['model', 'add', '--name', name, '--remote', 'gpt-4o-mini', '--conn-id', connectionId])));
    await waitForModels(dp, (m) => names.every((n) => m.has(n)), 5000);
    // Let a trailing push land before counting.
    await new Promise((r) => setTimeout(r, 300));
    const pushes = (await configPushes(cp2)) - before;
    assert.ok(pushes >= 1 && pushes <= 10, `${names.length} changes took ${pushes} pushes`);
  });

  it('NACKs a config the data plane rejects, shows it in fleet status, and keeps serving the old one', async () => {
    // Valid for the control plane, not for the data plane: an endpoint with a query string.
    const bad = await cli(cp1, [
      'connection', 'add', '--name', 'unparseable', '--provider', 'openai_compatible',
      '--endpoint', 'http://127.0.0.1:9/v1?tenant=x', '--api-key', 'sk-unused-0000',
    ]);
    const badId = bad.id ?? bad.connection?.id;
    await cli(cp1, ['model', 'add', '--name', 'behind-bad', '--remote', 'x', '--conn-id', badId]);
    let entry;
    for (let i = 0; i < 50; i++) {
      entry = (await fleet(cp1)).find((d) => d.node_id === 'dp-cfg-e2e');
      if (entry && entry.last_nack_reason) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(entry?.last_nack_reason, `no NACK in fleet status: ${JSON.stringify(entry)}`);
    assert.ok(Number(entry.nacked_revision) > Number(entry.acked_revision));
    const table = await cp1.cli(['dataplanes', 'list']);
    assert.match(table.stdout, new RegExp(`${entry.nacked_revision}: `));
    // The old config keeps serving.
    const models = await servedModels(dp);
    assert.ok(models.has('base-model') && !models.has('behind-bad'));
    assert.equal((await chat(dp, 'base-model')).status, 200);

    // Removing the bad connection brings the data plane back in sync.
    await cli(cp1, ['connection', 'delete', badId, '--force']);
    await cli(cp1, ['model', 'add', '--name', 'after-fix', '--remote', 'gpt-4o-mini', '--conn-id', connectionId]);
    await waitForModels(dp, (m) => m.has('after-fix'), 5000);
  });

  it('rotates to the next control-plane address when the first is unreachable', async () => {
    const deadAddress = `127.0.0.1:${await freePort()}`;
    const plane = await startPlane({ controlplaneAddress: `${deadAddress},${cp2.grpcAddress}` });
    try {
      await waitForModels(plane, (m) => m.has('base-model'), 10000);
    } finally {
      await plane.stop();
    }
  });

  it('is not ready and answers 503 while it has no config at all', async () => {
    const deadAddress = `127.0.0.1:${await freePort()}`;
    const plane = await startPlane({ controlplaneAddress: deadAddress, waitReady: false });
    try {
      // Give it time to try the control plane and find no snapshot on disk.
      await new Promise((r) => setTimeout(r, 1000));
      assert.ok(plane.isRunning(), plane.log());
      const ready = await fetch(`${plane.adminUrl}/readyz`);
      assert.equal(ready.status, 503);
      const r = await chat(plane, 'base-model');
      assert.equal(r.status, 503, r.body);
      assert.equal(JSON.parse(r.body).error.code, 'config_not_loaded');
    } finally {
      await plane.stop();
    }
  });

  it('keeps serving when every control plane is killed', async () => {
    for (const cp of [cp1, cp2]) cp.proc.kill('SIGKILL');
    await Promise.all([cp1.exitPromise, cp2.exitPromise]);
    for (let i = 0; i < 3; i++) {
      const r = await chat(dp, 'base-model');
      assert.equal(r.status, 200, r.body);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('serves its snapshot from disk when restarted with no control plane', async () => {
    await dp.stop();
    const deadAddress = `127.0.0.1:${await freePort()}`;
    dp = await startPlane({ nodeId: 'dp-cfg-e2e', snapshotDir, controlplaneAddress: deadAddress });
    const models = await servedModels(dp);
    for (const name of ['base-model', 'propagated-0', 'burst-29']) {
      assert.ok(models.has(name), `${name} missing after restart`);
    }
    const r = await chat(dp, 'propagated-2');
    assert.equal(r.status, 200, r.body);
    // The provider key reached the provider; the snapshot on disk does not hold it in clear.
    const onDisk = fs.readdirSync(snapshotDir).map((f) => fs.readFileSync(path.join(snapshotDir, f)));
    for (const bytes of onDisk) assert.ok(!bytes.includes(PROVIDER_KEY), 'provider key in clear on disk');
  });
});
