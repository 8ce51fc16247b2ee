-- wrk script: POST a small chat completion and print a machine-readable summary line.
-- env: BENCH_MODEL (model field), BENCH_KEY (bearer key; empty: no Authorization header)
local model = os.getenv("BENCH_MODEL") or "gpt-4o-mini"
local key = os.getenv("BENCH_KEY") or ""
wrk.method = "POST"
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"hello from the benchmark"}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

-- BENCH_PAUSE_MS > 0: paced (moderate) load. Each connection waits this long after an answer
-- before it sends its next request. wrk starts a request's latency clock when it sends it, so the
-- pause is not part of the latency.
local pause_ms = tonumber(os.getenv("BENCH_PAUSE_MS") or "0")
if pause_ms > 0 then
  function delay()
    return pause_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"socket_errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
