// Sends exactly N non-streamed chat completions (the body post.lua sends) over C keep-alive
// connections, then exits: a fixed amount of work for counting instructions per request.
// usage: node fixed_requests.mjs <url> <model> <key|""> <n> [c=4]
// prints: JSON {"requests":…,"non2xx":…,"errors":…}
import http from 'node:http';

const [url, model, key, nArg, cArg = '4'] = process.argv.slice(2);
const n = Number(nArg);
const c = Number(cArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: c });
const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hello from the benchmark' }], max_tokens: 16 });
const u = new URL(url);
const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(key ? { authorization: `Bearer ${key}` } : {}) };

function one() {
  return new Promise((resolve) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : 'non2xx'));
    });
    req.on('error', () => resolve('error'));
    req.end(body);
  });
}

let next = 0;
const counts = { ok: 0, non2xx: 0, error: 0 };
async function lane() {
  while (next < n) {
    next += 1;
    counts[await one()] += 1;
  }
}
await Promise.all(Array.from({ length: c }, lane));
agent.destroy();
console.log(`JSON ${JSON.stringify({ requests: counts.ok, non2xx: counts.non2xx, errors: counts.error })}`);
