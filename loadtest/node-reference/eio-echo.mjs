// The Node reference for the load tester: a bare engine.io 6.6 server that echoes every
// message back on the socket it came from, with the same timings as `tpcio serve`
// (pingInterval 25000, pingTimeout 20000) at the same path.
// Usage: node eio-echo.mjs PORT
import http from "node:http";
import { attach } from "engine.io";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("usage: node eio-echo.mjs PORT");
  process.exit(2);
}

const httpServer = http.createServer();
const engine = attach(httpServer, {
  path: "/engine.io/",
  pingInterval: 25000,
  pingTimeout: 20000,
});

engine.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`engine.io echo (node ${process.version}) listening on http://127.0.0.1:${port}/engine.io/`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    engine.close();
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
