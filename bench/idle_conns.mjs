// Opens N keep-alive connections to host:port, sends one request on each (so each is a real
// HTTP keep-alive connection the server has parsed and kept), then holds them idle.
// Prints "READY <open>" when all are idle, then waits for SIGTERM/SIGINT (or --hold-ms).
// usage: node idle_conns.mjs <host> <port> <n> <path> [key] [--hold-ms N]
import net from 'node:net';

const args = process.argv.slice(2);
const holdIdx = args.indexOf('--hold-ms');
const holdMs = holdIdx >= 0 ? Number(args.splice(holdIdx, 2)[1]) : 0;
const [host, portArg, nArg, path = '/healthz', key = ''] = args;
const port = Number(portArg);
const n = Number(nArg);
const sockets = [];
let failed = 0;
let closedLater = 0;

function open() {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let got = '';
    let settled = false;
    const done = (ok) => { if (!settled) { settled = true; resolve(ok); } };
    s.setNoDelay(true);
    s.on('connect', () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n${key ? `Authorization: Bearer ${key}\r\n` : ''}Connection: keep-alive\r\n\r\n`);
    });
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (/\r\n\r\n/.test(got)) done(true);  // headers of the answer arrived; body (if any) is small
    });
    s.on('error', () => { failed++; done(false); });
    s.on('close', () => { if (settled) closedLater++; done(false); });
    sockets.push(s);
  });
}

const batch = 200;
for (let i = 0; i < n; i += batch) {
  await Promise.all(Array.from({ length: Math.min(batch, n - i) }, open));
}
const alive = () => sockets.filter((s) => !s.destroyed).length;
console.log(`READY ${alive()} failed=${failed}`);
const stop = () => { console.log(`STOP alive=${alive()} closed_after_ready=${closedLater}`); for (const s of sockets) s.destroy(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (holdMs > 0) setTimeout(stop, holdMs);
else setInterval(() => {}, 1 << 30);
