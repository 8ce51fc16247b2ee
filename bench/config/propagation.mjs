// Config propagation latency: from the return of an admin call (`llm-proxy model add`) to the new
// config being served by every one of N data planes (default 10). A data plane "has" the change
// when GET /v1/models (master key) lists the new alias, polled every ~2 ms.
//
//   node bench/config/propagation.mjs [--dataplanes 10] [--changes 50] [--postgres] [--replicas 2]
//
// --postgres uses a fresh database on the test PostgreSQL server (LLMPROXY_TEST_PG_URL_FILE);
// --replicas 2 (needs --postgres) makes the change on replica 1 while every data plane subscribes
// to replica 2, so the change travels by LISTEN/NOTIFY. Needs LLMPROXY_BIN_DIR. 127.0.0.1 only.
import { parseArgs } from 'node:util';

import { startControlplane } from '../../tests/lib/controlplane.mjs';
import { startDataplane } from '../../tests/lib/dataplane.mjs';

const { values: opts } = parseArgs({
  options: {
    dataplanes: { type: 'string', default: '10' },
    changes: { type: 'string', default: '50' },
    postgres: { type: 'boolean', default: false },
    replicas: { type: 'string', default: '1' },
  },
});
const N = Number(opts.dataplanes);
const CHANGES = Number(opts.changes);
const MASTER = 'sk-master-propagation-bench-000000';

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function hasModel(dp, name) {
  const res = await fetch(`${dp.url}/v1/models`, { headers: { authorization: `Bearer ${MASTER}` } });
  const body = await res.json();
  return body.data.some((m) => m.id === name);
}

async function waitFor(dp, name, t0) {
  for (;;) {
    if (await hasModel(dp, name)) return performance.now() - t0;
    if (performance.now() - t0 > 10000) throw new Error(`${dp.nodeId} never got ${name}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function cli(cp, args) {
  const r = await cp.cli(['-o', 'json', ...args]);
  if (r.code !== 0) throw new Error(`llm-proxy ${args.join(' ')}: ${r.stderr}`);
  return r.json;
}

const cps = [];
const dps = [];
try {
  const first = await startControlplane({ database: opts.postgres ? 'postgres' : 'sqlite' });
  cps.push(first);
  for (let i = 1; i < Number(opts.replicas); i++) {
    cps.push(await startControlplane({
      databaseUrl: first.databaseUrl, adminToken: first.adminToken,
      dataplaneToken: first.dataplaneToken, encryptionKey: first.encryptionKey,
    }));
  }
  const admin = cps[0];
  const subscribed = cps[cps.length - 1];
  const conn = await cli(admin, ['connection', 'add', '--name', 'bench', '--provider', 'openai_compatible',
    '--endpoint', 'http://127.0.0.1:9/v1', '--api-key', 'sk-bench-unused']);
  for (let i = 0; i < N; i++) {
    dps.push(await startDataplane({ controlplane: subscribed, masterKey: MASTER, threads: 1, nodeId: `bench-dp-${i}` }));
  }
  const all = [];
  const each = [];
  for (let i = 0; i < CHANGES; i++) {
    const name = `prop-${i}`;
    await cli(admin, ['model', 'add', '--name', name, '--remote', 'r', '--conn-id', conn.id]);
    const t0 = performance.now();
    const times = await Promise.all(dps.map((dp) => waitFor(dp, name, t0)));
    each.push(...times);
    all.push(Math.max(...times));
    await new Promise((r) => setTimeout(r, 100));
  }
  all.sort((a, b) => a - b);
  each.sort((a, b) => a - b);
  const f = (x) => x.toFixed(1);
  console.log(JSON.stringify({
    dataplanes: N, changes: CHANGES, database: opts.postgres ? 'postgres' : 'sqlite', replicas: cps.length,
    all_applied_ms: { p50: f(pct(all, 50)), p90: f(pct(all, 90)), p99: f(pct(all, 99)), max: f(all[all.length - 1]) },
    per_dataplane_ms: { p50: f(pct(each, 50)), p99: f(pct(each, 99)) },
  }, null, 2));
} finally {
  for (const dp of dps) await dp.stop().catch(() => {});
  for (const cp of cps.reverse()) await cp.stop({ requireClean: false }).catch(() => {});
}
