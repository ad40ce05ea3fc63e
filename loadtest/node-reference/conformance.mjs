// The Node reference of `tpcio conformance` (src/cli/conformance.rs): what the official
// Engine.IO and Socket.IO test suites expect of a server, on one port.
//   - `/engine.io/`: a bare engine.io 6.6 server echoing every message on its session;
//   - `/socket.io/`: socket.io 4.8 with the namespaces `/` and `/custom`; every connect emits
//     `auth` with the CONNECT payload; on `/`, `message` is answered with `message-back` and
//     the same arguments, and `message-with-ack` is acknowledged with its own arguments.
// pingInterval 300 ms, pingTimeout 200 ms, maxHttpBufferSize 1e6, CORS `*`, EIO=3 accepted,
// connectTimeout 1 s (ALLOW_EIO3=false refuses EIO=3, for the v4 suites). The differential test (tests/differential.rs) drives it beside tpcio.
// Usage: node conformance.mjs PORT [PING_INTERVAL PING_TIMEOUT]
// (the differential test passes Node's defaults, 25000 20000, for its scripts that are not
// about the heartbeat, as tests/common/server.rs does for tpcio)
import http from "node:http";
import { Server as Engine } from "engine.io";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const [pingInterval = 300, pingTimeout = 200] = process.argv.slice(3, 5).map(Number);
if (!Number.isInteger(port) || port <= 0 || port > 65535 || !(pingInterval > 0) || !(pingTimeout > 0)) {
  console.error("usage: node conformance.mjs PORT [PING_INTERVAL PING_TIMEOUT]");
  process.exit(2);
}

const timings = { pingInterval, pingTimeout, maxHttpBufferSize: 1e6, allowEIO3: process.env.ALLOW_EIO3 !== "false" };
const cors = { origin: "*" };

const httpServer = http.createServer();
const engine = new Engine({ ...timings, cors, path: "/engine.io/" });
engine.attach(httpServer, { path: "/engine.io/" });
engine.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

const io = new Server(httpServer, { ...timings, cors, path: "/socket.io/", connectTimeout: 1000, serveClient: false });
const onConnection = (echo) => (socket) => {
  socket.emit("auth", socket.handshake.auth);
  if (!echo) return;
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
};
io.of("/").on("connection", onConnection(true));
io.of("/custom").on("connection", onConnection(false));

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`conformance (node ${process.version}) listening on http://127.0.0.1:${port}/`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close();
    engine.close();
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
