// Time to first token of streamed chat completions: N sequential requests (after a warm-up),
// measuring from sending the request to receiving the first SSE event that carries content.
// usage: node ttft.mjs <url> <model> [key] [n=200]
// prints: JSON {"n":…,"p50_ms":…,"p90_ms":…,"p99_ms":…,"mean_ms":…,"total_p50_ms":…}
import http from 'node:http';

const [url, model, key = '', nArg = '200'] = process.argv.slice(2);
const n = Number(nArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hello from the benchmark' }], max_tokens: 16, stream: true });
const u = new URL(url);

function one() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first = null;
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(key ? { authorization: `Bearer ${key}` } : {}) },
    }, (res) => {
      if (res.statusCode !== 200) { res.resume(); reject(new Error(`HTTP ${res.statusCode}`)); return; }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        if (first !== null) return;
        buf += d;
        if (/"content":"[^"]/.test(buf)) first = process.hrtime.bigint();
      });
      res.on('end', () => {
        const t1 = process.hrtime.bigint();
        resolve({ ttft: Number((first ?? t1) - t0) / 1e6, total: Number(t1 - t0) / 1e6 });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
for (let i = 0; i < Math.min(20, n); i++) await one();  // warm-up (connections, pools)
const ttft = [];
const total = [];
for (let i = 0; i < n; i++) {
  const r = await one();
  ttft.push(r.ttft);
  total.push(r.total);
}
ttft.sort((a, b) => a - b);
total.sort((a, b) => a - b);
const f = (x) => Number(x.toFixed(3));
console.log('JSON ' + JSON.stringify({
  n, p50_ms: f(pct(ttft, 50)), p90_ms: f(pct(ttft, 90)), p99_ms: f(pct(ttft, 99)),
  mean_ms: f(ttft.reduce((a, b) => a + b, 0) / n), total_p50_ms: f(pct(total, 50)),
}));
agent.destroy();
