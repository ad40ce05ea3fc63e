// The Node reference of the msgpack parser tests (tests/npm_msgpack.rs): a socket.io 4.8 server
// with `socket.io-msgpack-parser` 3.0.2 and the application of tests/npm_msgpack.rs, so that
// tests/js/sio_msgpack.mjs can run against both and compare what it observes.
//   - namespaces `/` (refuses auth.token "bad" with "not authorized", data {code: 42}) and `/chat`;
//   - `echo ...args` → `echo ...args`; `ack-me ...args` (with ack) → acked with the args;
//   - `ask-client q` → `question q` with an ack, then `answer <first ack arg>`;
//   - `join room` (ack true); `to-room room ...args` → `room-msg ...args` to the room but the sender;
//   - `broadcast ...args` → `broadcast-msg ...args` to the namespace but the sender;
//   - `bcack` (with ack) → `io.timeout(3000).emit("q")` to the namespace, acked with the answers;
//   - `types` (with ack) → acked with server-built values (buffers, floats, big integers).
// Prints `listening on PORT` once ready. Usage: node sio-msgpack.mjs PORT
import http from "node:http";
import { Server } from "socket.io";
import parser from "socket.io-msgpack-parser";

const port = Number(process.argv[2]);
const httpServer = http.createServer();
const io = new Server(httpServer, { parser, serveClient: false });

function app(nsp) {
  nsp.use((socket, next) => {
    if (socket.handshake.auth.token === "bad") {
      const err = new Error("not authorized");
      err.data = { code: 42 };
      return next(err);
    }
    next();
  });
  nsp.on("connection", (socket) => {
    socket.on("echo", (...args) => socket.emit("echo", ...args));
    socket.on("ack-me", (...args) => {
      const cb = args.pop();
      cb(...args);
    });
    socket.on("ask-client", (q) => {
      socket.timeout(3000).emit("question", q, (err, answer) => socket.emit("answer", err ? "timeout" : answer));
    });
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb(true);
    });
    socket.on("to-room", (room, ...args) => socket.to(room).emit("room-msg", ...args));
    socket.on("broadcast", (...args) => socket.broadcast.emit("broadcast-msg", ...args));
    socket.on("bcack", (cb) => {
      nsp.timeout(3000).emit("q", (err, answers) => cb(err ? "timeout" : answers));
    });
    socket.on("types", (cb) =>
      cb({ buf: Buffer.from([1, 2, 3]), n: 1.5, big: 4294967296, neg: -129, list: [Buffer.from("hi")], s: "é" }),
    );
  });
}

app(io.of("/"));
app(io.of("/chat"));
httpServer.listen(port, "127.0.0.1", () => console.log(`listening on ${port}`));
