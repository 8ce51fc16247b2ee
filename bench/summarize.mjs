// Turns a bench/run.sh output directory (machine.json, results.jsonl) into a Markdown summary.
// usage: node summarize.mjs <dir>
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const machine = JSON.parse(fs.readFileSync(path.join(dir, 'machine.json'), 'utf8'));
const rows = fs.readFileSync(path.join(dir, 'results.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const ms = (us) => (us / 1000).toFixed(3);
const out = [];

out.push(`# llm-proxy benchmark run ${machine.date_utc}`, '');
out.push(`${machine.cpu}, ${machine.cores} cores, ${(machine.mem_total_kb / 1048576).toFixed(1)} GiB, Linux ${machine.kernel}; ` +
  `nginx ${machine.nginx}, wrk ${machine.wrk}, node ${machine.node}; git ${machine.git_rev}; ` +
  `${machine.duration_s} s per run, data plane --threads ${machine.threads} (${machine.dataplane_build ?? 'plain'} build), ` +
  `nginx proxy workers ${machine.threads}; ` +
  `load average at start ${machine.load_avg_at_start}.`, '');

// One Markdown table: `columns` are header names (a leading '<' aligns left, the rest align
// right); `cells` maps an item of `list` to its row. Nothing when the list is empty.
const table = (title, columns, list, cells) => {
  if (!list.length) return;
  out.push(title, '');
  out.push(`| ${columns.map((c) => c.replace(/^</, '')).join(' | ')} |`);
  out.push(`|${columns.map((c) => (c.startsWith('<') ? '---' : '---:')).join('|')}|`);
  for (const item of list) out.push(`| ${cells(item).join(' | ')} |`);
  out.push('');
};

const pauseOf = (r) => r.pause_ms ?? 0;
const rps = rows.filter((r) => r.kind === 'rps');
// The direct call a proxied cell is compared with: the same round's when there is one (the
// moderate-load cells measure it every round), else the cell's only one.
const direct = (r) => {
  const base = r.target.endsWith('-node') ? 'direct-node' : 'direct-fast';
  const same = rps.filter((d) => d.target === base && d.concurrency === r.concurrency && pauseOf(d) === pauseOf(r));
  return (same.find((d) => (d.round ?? 1) === (r.round ?? 1)) ?? same[0])?.result;
};
// CPU µs per request: cpu_ticks are 1/100 s.
const cpuPerReq = (r) => (r.cpu_ticks * 10000) / Math.max(1, r.result.requests);
const rpsColumns = ['<target', 'conc', 'pause ms', 'round', 'busy threads', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'added p50 vs direct ms',
  'added p99 ms', 'errors', 'non-2xx', 'target CPU µs/req'];
const rpsCells = (r) => {
  const d = r.target.startsWith('direct') ? undefined : direct(r);
  const x = r.result;
  return [r.target, r.concurrency, pauseOf(r), r.round ?? 1, r.busy_threads ?? '', x.rps.toFixed(0), ms(x.p50_us), ms(x.p90_us), ms(x.p99_us),
    d ? ms(x.p50_us - d.p50_us) : '', d ? ms(x.p99_us - d.p99_us) : '', x.socket_errors, x.non2xx,
    r.cpu_ticks !== undefined && x.requests > 0 ? cpuPerReq(r).toFixed(1) : ''];
};
table('## Requests/s and latency at full load (non-streamed chat completion, wrk -t1, keep-alive)',
  rpsColumns, rps.filter((r) => pauseOf(r) === 0), rpsCells);
// The target's comparison, round by round, and the median of the rounds' ratios.
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const pairs = [];
for (const c of [...new Set(rps.map((r) => r.concurrency))]) {
  const cell = (target, round) =>
    rps.find((r) => r.target === target && r.concurrency === c && pauseOf(r) === 0 && (r.round ?? 1) === round);
  const ratios = [];
  for (const round of [...new Set(rps.filter((r) => r.concurrency === c).map((r) => r.round ?? 1))]) {
    const n = cell('nginx-fast', round);
    const d = cell('dataplane-fast', round);
    if (!n || !d) continue;
    const ratio = d.result.rps / n.result.rps;
    ratios.push(ratio);
    const show = (r) => `${r.result.rps.toFixed(0)} (${cpuPerReq(r).toFixed(1)} µs, ${r.busy_threads ?? '?'} busy)`;
    pairs.push([c, round, show(n), show(d), `${(ratio * 100).toFixed(0)} %`]);
  }
  if (ratios.length > 1) pairs.push([c, '**median**', '', '', `**${(median(ratios) * 100).toFixed(0)} %**`]);
}
table('## Data plane ÷ nginx, full load, round by round (req/s, target CPU per request, busy threads)',
  ['conc', 'round', 'nginx-fast', 'dataplane-fast', 'data plane ÷ nginx'], pairs, (row) => row);
table('## Latency at moderate load (the same, each connection pausing after every answer)',
  rpsColumns, rps.filter((r) => pauseOf(r) > 0), rpsCells);
// The target's other figure, round by round: p99 added over the same round's direct call.
const added = [];
for (const key of [...new Set(rps.filter((r) => pauseOf(r) > 0).map((r) => `${r.concurrency}:${pauseOf(r)}`))]) {
  const [c, pause] = key.split(':').map(Number);
  const cell = (target, round) =>
    rps.find((r) => r.target === target && r.concurrency === c && pauseOf(r) === pause && (r.round ?? 1) === round);
  const addedP99 = (r) => (r.result.p99_us - direct(r).p99_us) / 1000;
  const byTarget = { 'nginx-fast': [], 'dataplane-fast': [] };
  for (const round of [...new Set(rps.filter((r) => pauseOf(r) === pause).map((r) => r.round ?? 1))]) {
    const n = cell('nginx-fast', round);
    const d = cell('dataplane-fast', round);
    if (!n || !d || !direct(n)) continue;
    byTarget['nginx-fast'].push(addedP99(n));
    byTarget['dataplane-fast'].push(addedP99(d));
    added.push([c, pause, round, addedP99(n).toFixed(3), addedP99(d).toFixed(3)]);
  }
  if (byTarget['nginx-fast'].length > 1) {
    added.push([c, pause, '**median**', `**${median(byTarget['nginx-fast']).toFixed(3)}**`,
      `**${median(byTarget['dataplane-fast']).toFixed(3)}**`]);
  }
}
table('## Added p99 at moderate load, round by round (ms over the same round\'s direct call)',
  ['conc', 'pause ms', 'round', 'nginx-fast', 'dataplane-fast'], added, (row) => row);

table('## Time to first token (streamed chat, Node fake upstream, sequential requests; *-paced: 10 ms between chunks)',
  ['<target', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms', 'whole stream p50 ms'],
  rows.filter((r) => r.kind === 'ttft'),
  ({ target, result: x }) => [target, x.n, x.p50_ms, x.p90_ms, x.p99_ms, x.mean_ms, x.total_p50_ms]);

table('## Resident memory with idle keep-alive connections (a fresh data plane)',
  ['<server', 'connections asked', '<client says', 'established (server side)', 'RSS before MiB', 'RSS with them MiB', 'per connection KiB'],
  rows.filter((r) => r.kind === 'idle'),
  ({ target, result: x }) => [target, x.connections, x.client, x.established_server_side, (x.rss_before_kb / 1024).toFixed(1),
    (x.rss_after_kb / 1024).toFixed(1),
    x.established_server_side > 0 ? ((x.rss_after_kb - x.rss_before_kb) / x.established_server_side).toFixed(2) : '']);

table('## User-space instructions per request (callgrind, fixed request count, 4 connections)',
  ['<target', 'requests', 'non-2xx', 'instructions', 'per request'],
  rows.filter((r) => r.kind === 'instructions'),
  ({ target, result: x }) => {
    const n = x.requests?.requests ?? 0;
    return [target, n, x.requests?.non2xx ?? '', x.instructions, n > 0 ? Math.round(x.instructions / n) : ''];
  });
console.log(out.join('\n'));
