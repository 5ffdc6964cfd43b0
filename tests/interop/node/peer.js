#!/usr/bin/env node
// Node's ws as a peer for airsocket's interoperability tests.
//
//   node peer.js server [--deflate] [--protocols a,b] [--no-echo]
//   node peer.js client URL [--no-deflate] [--protocols a,b]
//
// The Python side drives it through pipes, so that one process serves a
// whole test: commands arrive on stdin as JSON lines and apply to the
// current socket (the client's, or the server's latest connection); every
// event leaves on stdout as one JSON line. Messages are reported by length
// and SHA-256, and small ones also by content, so that a 16 MiB echo is
// compared without printing it.
//
// Commands: {"op": "send", "text": "..."} | {"op": "send", "base64": "..."}
//           {"op": "ping", "base64": "..."} | {"op": "close", "code": 4000, "reason": "bye"}
//           {"op": "exit"}
"use strict";

const crypto = require("crypto");
const readline = require("readline");
const { WebSocket, WebSocketServer } = require("ws");

// Content is echoed in events up to this size; beyond it only the digest.
const INLINE_LIMIT = 4096;
// The tests send 16 MiB messages; stated here rather than left to ws's default.
const MAX_PAYLOAD = 64 * 1024 * 1024;

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function parseArgs(argv) {
  const args = { mode: argv[0], url: null, deflate: null, protocols: null, echo: true };
  let i = 1;
  if (args.mode === "client") {
    args.url = argv[1];
    i = 2;
  }
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--deflate") args.deflate = true;
    else if (arg === "--no-deflate") args.deflate = false;
    else if (arg === "--no-echo") args.echo = false;
    else if (arg === "--protocols") args.protocols = argv[++i].split(",").filter(Boolean);
    else throw new Error(`unknown argument ${arg}`);
  }
  if (args.mode !== "server" && args.mode !== "client") throw new Error("mode: server or client");
  return args;
}

function describe(data, isBinary, socket) {
  const buffer = Buffer.isBuffer(data) ? data : Buffer.concat(data);
  const event = {
    event: "message",
    binary: isBinary,
    length: buffer.length,
    sha256: crypto.createHash("sha256").update(buffer).digest("hex"),
  };
  // Bytes read from TCP so far, handshake included: shows whether the
  // message came compressed.
  if (socket) event.bytes_read = socket.bytesRead;
  if (buffer.length <= INLINE_LIMIT) {
    event.data = isBinary ? buffer.toString("base64") : buffer.toString("utf8");
  }
  return event;
}

// Reports what happens on one WebSocket; the server echoes when asked to.
// getSocket gives the net.Socket under it, once there is one.
function watch(ws, echo, getSocket) {
  ws.on("message", (data, isBinary) => {
    emit(describe(data, isBinary, getSocket()));
    if (echo) ws.send(data, { binary: isBinary });
  });
  ws.on("ping", (data) => emit({ event: "ping", base64: data.toString("base64") }));
  ws.on("pong", (data) => emit({ event: "pong", base64: data.toString("base64") }));
  ws.on("close", (code, reason) => emit({ event: "close", code, reason: reason.toString("utf8") }));
  ws.on("error", (error) => emit({ event: "error", message: String(error.message || error) }));
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  let current = null;

  if (args.mode === "server") {
    const options = {
      host: "127.0.0.1",
      port: 0,
      maxPayload: MAX_PAYLOAD,
      perMessageDeflate: args.deflate === true,
    };
    if (args.protocols !== null) {
      // The server's preference order decides; false means "accept, choose none".
      options.handleProtocols = (offered) => args.protocols.find((p) => offered.has(p)) || false;
    }
    const server = new WebSocketServer(options);
    server.on("headers", (headers) => emit({ event: "response-headers", headers }));
    server.on("listening", () => emit({ event: "listening", port: server.address().port }));
    server.on("connection", (ws, request) => {
      current = ws;
      emit({
        event: "open",
        path: request.url,
        protocol: ws.protocol,
        extensions: ws.extensions,
        request_extensions: request.headers["sec-websocket-extensions"] || null,
        request_protocols: request.headers["sec-websocket-protocol"] || null,
      });
      watch(ws, args.echo, () => request.socket);
    });
  } else {
    const protocols = args.protocols === null ? [] : args.protocols;
    const ws = new WebSocket(args.url, protocols, {
      maxPayload: MAX_PAYLOAD,
      perMessageDeflate: args.deflate !== false,
    });
    current = ws;
    let responseExtensions = null;
    let socket = null;
    ws.on("upgrade", (response) => {
      responseExtensions = response.headers["sec-websocket-extensions"] || null;
      socket = response.socket;
    });
    ws.on("unexpected-response", (request, response) => {
      emit({ event: "unexpected-response", status: response.statusCode });
      request.destroy();
    });
    ws.on("open", () =>
      emit({
        event: "open",
        protocol: ws.protocol,
        extensions: ws.extensions,
        response_extensions: responseExtensions,
      }),
    );
    watch(ws, false, () => socket);
  }

  const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  input.on("line", (line) => {
    if (!line.trim()) return;
    const command = JSON.parse(line);
    if (command.op === "exit") process.exit(0);
    if (current === null) {
      emit({ event: "error", message: `no socket for ${command.op}` });
      return;
    }
    if (command.op === "send") {
      if (command.base64 !== undefined) current.send(Buffer.from(command.base64, "base64"));
      else current.send(command.text, { binary: false });
    } else if (command.op === "ping") {
      current.ping(Buffer.from(command.base64 || "", "base64"));
    } else if (command.op === "close") {
      current.close(command.code, command.reason);
    } else {
      emit({ event: "error", message: `unknown op ${command.op}` });
    }
  });
  // The test ended (or crashed): do not outlive it.
  input.on("close", () => process.exit(0));
}

main();
