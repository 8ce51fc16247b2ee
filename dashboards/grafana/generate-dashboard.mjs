// Generates dashboards/grafana/dashboards/llm-proxy.json (the Grafana
// dashboard docker-compose.yml provisions). Edit here, then run:
//   node dashboards/grafana/generate-dashboard.mjs dashboards/grafana/dashboards/llm-proxy.json
// tests/deploy_config.test.mjs checks the JSON is what this script prints.
//
// Metric names: OpenTelemetry GenAI names where one exists, llmproxy_* otherwise.
// Labels the panels use: model, virtual_key, token_type (input|output), status, kind, provider, reason, instance.
export const N = {
  // histogram, seconds, labels: model
  requestDuration: 'gen_ai_server_request_duration_seconds',
  // histogram, seconds, labels: model (streamed requests)
  timeToFirstToken: 'gen_ai_server_time_to_first_token_seconds',
  // histogram of tokens per request, labels: model, provider, token_type (input|output)
  tokenUsage: 'gen_ai_client_token_usage',
  // counter, labels: virtual_key, model, token_type
  tokens: 'llmproxy_tokens_total',
  // counter, labels: virtual_key, model, status (HTTP status code)
  requests: 'llmproxy_requests_total',
  // counter, labels: kind (requests, tokens, concurrency, budget)
  limitRejections: 'llmproxy_limit_rejections_total',
  // counter, labels: provider, reason
  upstreamErrors: 'llmproxy_upstream_errors_total',
  // counter, labels: provider
  upstreamRetries: 'llmproxy_upstream_retries_total',
  // gauge: config revision a data plane applied
  configRevision: 'llmproxy_config_revision',
  // gauge: the newest config revision the control plane knows
  controlplaneRevision: 'llmproxy_controlplane_config_revision',
  // counter: usage records written to the disk spool
  usageRecordsSpooled: 'llmproxy_usage_records_spooled_total',
  // counter: spooled usage records sent once the control plane answered again
  usageRecordsReplayed: 'llmproxy_usage_records_replayed_total',
  // counter, USD, labels: virtual_key, model
  spend: 'llmproxy_spend_usd_total',
};

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const DS = { type: 'prometheus', uid: '${datasource}' };
let id = 0;
const panels = [];
let y = 0;
function row(title) { panels.push({ type: 'row', title, id: ++id, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] }); y += 1; }
let x = 0, rowH = 0;
function panel(p, w, h) {
  if (x + w > 24) { x = 0; y += rowH; rowH = 0; }
  p.id = ++id; p.gridPos = { h, w, x, y }; p.datasource = DS;
  p.targets = p.targets.map((t, i) => ({ datasource: DS, refId: String.fromCharCode(65 + i), editorMode: 'code', range: true, ...t }));
  panels.push(p); x += w; rowH = Math.max(rowH, h);
}
function endRow() { y += rowH; x = 0; rowH = 0; }
const ts = (title, description, unit, targets, extra = {}) => ({
  type: 'timeseries', title, description, targets,
  fieldConfig: { defaults: { unit, custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never', spanNulls: false, stacking: { mode: extra.stack ? 'normal' : 'none', group: 'A' } } }, overrides: [] },
  options: { legend: { displayMode: 'table', placement: 'right', calcs: ['mean', 'max', 'lastNotNull'], showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
});
const stat = (title, description, unit, targets, thresholds) => ({
  type: 'stat', title, description, targets,
  fieldConfig: { defaults: { unit, thresholds: { mode: 'absolute', steps: thresholds || [{ color: 'green', value: null }] }, color: { mode: 'thresholds' } }, overrides: [] },
  options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto', justifyMode: 'auto', orientation: 'auto' },
});
const bar = (title, description, unit, targets) => ({
  type: 'bargauge', title, description, targets,
  fieldConfig: { defaults: { unit, min: 0, color: { mode: 'continuous-BlYlRd' }, thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] } }, overrides: [] },
  options: { orientation: 'horizontal', displayMode: 'gradient', showUnfilled: true, reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } },
});
const M = 'model=~"$model"';
const DP = 'job=~".*dataplane.*"';
const CP = 'job=~".*controlplane.*"';
const R = '$__rate_interval';

row('Traffic');
panel(stat('Requests/s', 'All client requests answered by the data planes, any status.', 'reqps', [{ expr: `sum(rate(${N.requests}{${M}}[${R}]))`, legendFormat: 'requests/s' }]), 4, 6);
panel(stat('Error ratio (5xx)', 'Share of requests answered 5xx (upstream failure, timeout, no usable deployment).', 'percentunit', [{ expr: `sum(rate(${N.requests}{${M},status=~"5.."}[${R}])) / sum(rate(${N.requests}{${M}}[${R}]))`, legendFormat: '5xx' }], [{ color: 'green', value: null }, { color: 'orange', value: 0.01 }, { color: 'red', value: 0.05 }]), 4, 6);
panel(stat('Refused (429)/s', 'Requests refused by a limit (requests/s, tokens/min, concurrency, budget).', 'reqps', [{ expr: `sum(rate(${N.limitRejections}[${R}]))`, legendFormat: 'refused/s' }], [{ color: 'green', value: null }, { color: 'orange', value: 0.1 }]), 4, 6);
panel(ts('Requests/s by model', 'Client requests per second, by model alias.', 'reqps', [{ expr: `sum by (model) (rate(${N.requests}{${M}}[${R}]))`, legendFormat: '{{model}}' }], { stack: true }), 12, 6);
endRow();
panel(ts('Requests/s by status', 'HTTP status the data planes answered: 2xx served, 4xx refused or invalid, 5xx upstream trouble.', 'reqps', [{ expr: `sum by (status) (rate(${N.requests}{${M}}[${R}]))`, legendFormat: '{{status}}' }], { stack: true }), 12, 8);
panel(ts('Requests/s by data plane', 'Load spread across data-plane replicas.', 'reqps', [{ expr: `sum by (instance) (rate(${N.requests}{${M}}[${R}]))`, legendFormat: '{{instance}}' }], { stack: true }), 12, 8);
endRow();

row('Latency');
panel(ts('Request duration', 'gen_ai.server.request.duration: time from the request to the last byte of the answer.', 's', [0.5, 0.95, 0.99].map((q) => ({ expr: `histogram_quantile(${q}, sum by (le) (rate(${N.requestDuration}_bucket{${M}}[${R}])))`, legendFormat: `p${q * 100}` }))), 8, 8);
panel(ts('Time to first token', 'gen_ai.server.time_to_first_token: time until the first streamed token reached the client.', 's', [0.5, 0.95, 0.99].map((q) => ({ expr: `histogram_quantile(${q}, sum by (le) (rate(${N.timeToFirstToken}_bucket{${M}}[${R}])))`, legendFormat: `p${q * 100}` }))), 8, 8);
panel(ts('p95 duration by model', '95th percentile of the request duration, by model alias.', 's', [{ expr: `histogram_quantile(0.95, sum by (le, model) (rate(${N.requestDuration}_bucket{${M}}[${R}])))`, legendFormat: '{{model}}' }]), 8, 8);
endRow();

row('Tokens and spend');
panel(ts('Tokens/s by model', 'gen_ai.client.token.usage: input (prompt) and output (completion) tokens per second.', 'short', [{ expr: `sum by (model, token_type) (rate(${N.tokenUsage}_sum{${M}}[${R}]))`, legendFormat: '{{model}} {{token_type}}' }], { stack: true }), 12, 8);
panel(ts('Tokens/s by virtual key', 'Tokens per second, by virtual key.', 'short', [{ expr: `sum by (virtual_key, token_type) (rate(${N.tokens}{${M}}[${R}]))`, legendFormat: '{{virtual_key}} {{token_type}}' }], { stack: true }), 12, 8);
endRow();
panel(bar('Tokens by virtual key (time range)', 'Input + output tokens over the selected time range.', 'short', [{ expr: `sort_desc(sum by (virtual_key) (increase(${N.tokens}{${M}}[$__range])))`, legendFormat: '{{virtual_key}}', instant: true, range: false }]), 6, 8);
panel(bar('Spend by virtual key (time range)', 'USD over the selected time range, from the models\' prices per million tokens.', 'currencyUSD', [{ expr: `sort_desc(sum by (virtual_key) (increase(${N.spend}{${M}}[$__range])))`, legendFormat: '{{virtual_key}}', instant: true, range: false }]), 6, 8);
panel(bar('Spend by model (time range)', 'USD over the selected time range, by model alias.', 'currencyUSD', [{ expr: `sort_desc(sum by (model) (increase(${N.spend}{${M}}[$__range])))`, legendFormat: '{{model}}', instant: true, range: false }]), 6, 8);
panel(ts('Spend rate (USD/hour)', 'Spend per hour, by model alias.', 'currencyUSD', [{ expr: `sum by (model) (rate(${N.spend}{${M}}[${R}])) * 3600`, legendFormat: '{{model}}' }], { stack: true }), 6, 8);
endRow();

row('Refusals and errors');
panel(ts('Limit rejections/s by kind', 'Requests answered 429, by the limit that refused them (requests, tokens, concurrency, budget).', 'reqps', [{ expr: `sum by (kind) (rate(${N.limitRejections}[${R}]))`, legendFormat: '{{kind}}' }], { stack: true }), 8, 8);
panel(ts('Upstream errors and retries/s', 'Failed calls to providers by provider and reason (connect, timeout, 5xx...), and calls retried on another deployment.', 'reqps', [{ expr: `sum by (provider, reason) (rate(${N.upstreamErrors}[${R}]))`, legendFormat: '{{provider}} {{reason}}' }, { expr: `sum by (provider) (rate(${N.upstreamRetries}[${R}]))`, legendFormat: 'retries {{provider}}' }]), 8, 8);
panel(ts('Client errors/s by status', '4xx and 5xx answers, by status.', 'reqps', [{ expr: `sum by (status) (rate(${N.requests}{${M},status=~"[45].."}[${R}]))`, legendFormat: '{{status}}' }], { stack: true }), 8, 8);
endRow();

row('Fleet');
panel(stat('Data planes up', 'Data-plane targets Prometheus scrapes successfully.', 'short', [{ expr: `sum(up{${DP}})`, legendFormat: 'up' }]), 4, 6);
panel(stat('Control planes up', 'Control-plane targets Prometheus scrapes successfully.', 'short', [{ expr: `sum(up{${CP}})`, legendFormat: 'up' }]), 4, 6);
panel(stat('Data planes behind', 'Data planes whose applied config revision is older than the control plane\'s newest.', 'short', [{ expr: `count(max by (instance) (${N.configRevision}{${DP}}) < scalar(max(${N.controlplaneRevision}{${CP}}))) or vector(0)`, legendFormat: 'behind' }], [{ color: 'green', value: null }, { color: 'red', value: 1 }]), 4, 6);
panel(ts('Config revision', 'Config revision of the control plane (newest) and the one each data plane applied. The lines should meet.', 'none', [{ expr: `max(${N.controlplaneRevision}{${CP}})`, legendFormat: 'control plane' }, { expr: `max by (instance) (${N.configRevision}{${DP}})`, legendFormat: '{{instance}}' }]), 12, 6);
endRow();
panel(ts('Usage records spooled and replayed/s', 'Usage records a data plane wrote to disk while the control plane was unreachable, and those it replayed later.', 'short', [{ expr: `sum by (instance) (rate(${N.usageRecordsSpooled}[${R}]))`, legendFormat: 'spooled {{instance}}' }, { expr: `sum by (instance) (rate(${N.usageRecordsReplayed}[${R}]))`, legendFormat: 'replayed {{instance}}' }]), 24, 6);
endRow();

const dashboard = {
  title: 'llm-proxy',
  uid: 'llm-proxy-overview',
  description: 'llm-proxy gateway: traffic, latency, tokens and spend by virtual key and model, refusals, errors and fleet config status.',
  tags: ['llm-proxy', 'gen-ai'],
  timezone: 'browser',
  editable: true,
  graphTooltip: 1,
  schemaVersion: 39,
  version: 1,
  refresh: '30s',
  time: { from: 'now-6h', to: 'now' },
  timepicker: {},
  fiscalYearStartMonth: 0,
  liveNow: false,
  links: [],
  annotations: { list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }] },
  templating: {
    list: [
      { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', includeAll: false, multi: false, options: [] },
      { name: 'model', label: 'Model', type: 'query', datasource: DS, definition: `label_values(${N.requests}, model)`, query: { query: `label_values(${N.requests}, model)`, refId: 'model' }, refresh: 2, includeAll: true, multi: true, allValue: '.*', current: { selected: true, text: ['All'], value: ['$__all'] }, hide: 0, sort: 1, regex: '', options: [] },
    ],
  },
  panels,
};
export const json = JSON.stringify(dashboard, null, 2) + '\n';
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2]) writeFileSync(process.argv[2], json);
  else process.stdout.write(json);
}
