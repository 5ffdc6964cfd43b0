// Node "ws" echo server: node bench/servers/node_echo.js PORT [--deflate] [--broadcast]
// Prints READY when listening; on SIGUSR2 prints "CPU <seconds> <rss bytes>".
'use strict';
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '..', 'node_modules', 'ws'));

const port = parseInt(process.argv[2], 10);
const deflate = process.argv.includes('--deflate');
const broadcast = process.argv.includes('--broadcast');

process.on('SIGUSR2', () => {
  const u = process.cpuUsage();
  process.stdout.write(`CPU ${((u.user + u.system) / 1e6).toFixed(6)} ${process.memoryUsage().rss}\n`);
});
process.on('SIGTERM', () => process.exit(0));

const wss = new WebSocketServer({
  host: '127.0.0.1', port, backlog: 4096, maxPayload: 64 * 1024 * 1024, clientTracking: true,
  perMessageDeflate: deflate ? {
    zlibDeflateOptions: { level: 1, memLevel: 8 }, serverMaxWindowBits: 15, threshold: 0,
  } : false,
}, () => process.stdout.write(`READY ${port}\n`));

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (broadcast) {
      for (const c of wss.clients) c.send(data, { binary: isBinary });
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on('error', () => {});
});
