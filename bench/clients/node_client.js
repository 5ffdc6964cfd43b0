// Node "ws" benchmark client: node bench/clients/node_client.js URL --workload W --n N [--size S]
// Measures its own CPU (process.cpuUsage) over the measured window after a warm-up and
// prints "RESULT {json}".  Same workloads as bench/clients/_clientlib.py.
'use strict';
const path = require('path');
const crypto = require('crypto');
const WebSocket = require(path.join(__dirname, '..', 'node_modules', 'ws'));

const argv = process.argv.slice(2);
const url = argv[0];
const opt = (name, dflt) => { const i = argv.indexOf('--' + name); return i >= 0 ? argv[i + 1] : dflt; };
const wl = opt('workload');
const n = parseInt(opt('n', '1000'), 10);
const size = parseInt(opt('size', '0'), 10);
const DEADLINE = 120000;
setTimeout(() => { process.stderr.write('deadline\n'); process.exit(2); }, DEADLINE * 1.5).unref();

function jsonText(sz) {  // same text as _benchlib.json_text
  const items = [];
  const dump = (pad) => JSON.stringify({ items, pad });
  for (let i = 0; ; i++) {
    const sc = i * 37 % 1000;
    items.push({ id: i, name: `user${i * 7919 % 10007}`, active: i % 3 === 0, score: sc,
                 tags: ['red', 'green', 'blue'].slice(0, i % 3 + 1) });
    if (dump('').length > sz - 40) { items.pop(); break; }
  }
  const a = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const need = sz - dump('').length;
  let pad = '';
  for (let k = 0; k < need; k++) pad += a[(k * k * 31 + 7) % a.length];
  return dump(pad);
}

function open(deflate) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      maxPayload: 64 * 1024 * 1024,
      perMessageDeflate: deflate ? { zlibDeflateOptions: { level: 1, memLevel: 8 }, clientMaxWindowBits: 15, threshold: 0 } : false,
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closeWs(ws) {
  return new Promise((resolve) => { ws.once('close', resolve); ws.close(1000); });
}

function cpuNow() { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; }

async function measure(fn, count, warmup) {
  await fn(warmup || Math.max(1, Math.floor(count / 10)), true);
  const c0 = cpuNow(); const t0 = process.hrtime.bigint();
  const extra = (await fn(count, false)) || {};
  const wall = Number(process.hrtime.bigint() - t0) / 1e9; const cpu = cpuNow() - c0;
  return Object.assign({ cpu, wall, rss: process.memoryUsage().rss }, extra);
}

async function main() {
  if (wl === 'hs_seq' || wl === 'hs_conc') {
    const conc = wl === 'hs_seq' ? 1 : 50;
    const one = async () => closeWs(await open(false));
    const r = await measure(async (count) => {
      for (let done = 0; done < count;) {
        const k = Math.min(conc, count - done);
        await Promise.all(Array.from({ length: k }, one));
        done += k;
      }
    }, n);
    return Object.assign(r, { units: n });
  }
  if (wl === 'rss') {
    for (let i = 0; i < 10; i++) await closeWs(await open(false));
    await new Promise((r) => setTimeout(r, 300));
    if (global.gc) global.gc();
    const r0 = process.memoryUsage().rss;
    const conns = [];
    const c0 = cpuNow(); const t0 = Date.now();
    while (conns.length < n) {
      const k = Math.min(50, n - conns.length);
      conns.push(...await Promise.all(Array.from({ length: k }, () => open(false))));
    }
    const wall = (Date.now() - t0) / 1000; const cpu = cpuNow() - c0;
    await new Promise((r) => setTimeout(r, 500));
    const r1 = process.memoryUsage().rss;
    for (const c of conns) c.terminate();
    return { cpu, wall, rss: r1, units: n, rss_per_conn: (r1 - r0) / n };
  }
  const deflate = wl === 'deflate';
  const ws = await open(deflate);
  let payload;
  if (deflate) payload = jsonText(4096);
  else if (wl.startsWith('large')) payload = crypto.randomBytes(size);
  else payload = crypto.randomBytes(wl === 'roundtrip' ? 32 : 64);
  const binary = typeof payload !== 'string';
  let hook = () => {};
  ws.on('message', (data, isBinary) => hook(data, isBinary));
  const send = () => ws.send(payload, { binary });
  // check the echo once
  await new Promise((resolve, reject) => {
    hook = (d) => { (binary ? Buffer.compare(d, payload) === 0 : d.toString() === payload) ? resolve() : reject(new Error('echo mismatch')); };
    send();
  });
  const runWith = (start, onMsg) => (count) => new Promise((resolve) => {
    const st = { sent: 0, recv: 0, count, resolve };
    hook = () => onMsg(st);
    start(st);
  });
  let r;
  if (wl === 'pipelined' || deflate) {
    const window = deflate ? 16 : 256;
    r = await measure(runWith((st) => { const k = Math.min(window, st.count); for (let i = 0; i < k; i++) send(); st.sent = k; },
      (st) => { st.recv++; if (st.sent < st.count) { st.sent++; send(); } if (st.recv >= st.count) st.resolve(); }), n);
    r.units = n;
  } else if (wl === 'burst') {
    const bursts = Math.max(1, Math.floor(n / 256));
    const b = () => { for (let i = 0; i < 256; i++) send(); };
    r = await measure(runWith((st) => { b(); st.sent = 1; },
      (st) => { st.recv++; if (st.recv % 256 === 0) { if (st.sent < st.count) { st.sent++; b(); } else st.resolve(); } }), bursts);
    r.units = bursts * 256;
  } else if (wl === 'roundtrip' || wl.startsWith('large')) {
    const lat = []; let t0 = 0n; let record = false;
    const fn = runWith((st) => { t0 = process.hrtime.bigint(); send(); },
      (st) => { st.recv++; if (record) lat.push(Number(process.hrtime.bigint() - t0)); if (st.recv < st.count) { t0 = process.hrtime.bigint(); send(); } else st.resolve(); });
    // LARGE_WARMUP of bench/_benchlib.py: large echoes are measured once the allocator settled.
    r = await measure((count, warm) => { record = !warm && wl === 'roundtrip'; return fn(count); }, n,
      wl === 'roundtrip' ? 0 : 4);
    if (wl === 'roundtrip') {
      lat.sort((x, y) => x - y);
      r.units = n; r.p50_us = lat[Math.floor(lat.length / 2)] / 1e3; r.p99_us = lat[Math.floor(lat.length * 0.99)] / 1e3;
    } else r.units = n * size / (1 << 20);
  } else {
    return { error: `n/a: unknown workload ${wl}` };
  }
  await closeWs(ws);
  return r;
}

main().then((r) => { process.stdout.write('RESULT ' + JSON.stringify(r) + '\n'); process.exit(0); },
  (e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
