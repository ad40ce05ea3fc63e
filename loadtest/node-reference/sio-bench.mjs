// The Node reference for the Socket.IO scenarios of the load tester: a socket.io 4.8 server
// with the behaviour of `tpcio bench` (src/modes/bench.rs) and the same timings
// (pingInterval 25000, pingTimeout 20000) at the same path, EIO=3 accepted too.
//   - `echo`: emitted back as `echo` with the same arguments, or, when the client asked for
//     an ack, acknowledged with the same arguments instead;
//   - `broadcast`: re-emitted as `broadcast` with the same arguments to every connected
//     socket (`io.emit`). An ack asked for with it is never sent, as in tpcio (and `io.emit`
//     refuses callbacks).
// Usage: node sio-bench.mjs PORT
import http from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("usage: node sio-bench.mjs PORT");
  process.exit(2);
}

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: "/socket.io/",
  pingInterval: 25000,
  pingTimeout: 20000,
  serveClient: false,
  allowEIO3: true,
});

// Splits the client's ack callback (always the last argument) off the event's arguments.
const withoutAck = (args) =>
  typeof args[args.length - 1] === "function" ? [args.slice(0, -1), args[args.length - 1]] : [args, null];

io.on("connection", (socket) => {
  socket.on("echo", (...received) => {
    const [args, ack] = withoutAck(received);
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  socket.on("broadcast", (...received) => {
    const [args] = withoutAck(received);
    io.emit("broadcast", ...args);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`socket.io bench (node ${process.version}) listening on http://127.0.0.1:${port}/socket.io/`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
