// The Node reference for the Socket.IO scenarios of the load tester: a socket.io 4.8 server
// with the behaviour of `tpcio bench` (src/cli/bench.rs) and the same timings
// (pingInterval 25000, pingTimeout 20000) at the same path, EIO=3 accepted too. With a Redis
// URL it joins a `@socket.io/redis-adapter` 8.3 cluster (classic `createAdapter(pub, sub)`,
// prefix KEY, default `socket.io`): the reference `tpcio bench --redis URL --redis-key KEY`
// must match, node for node, in a mixed cluster.
//   - `echo`: emitted back as `echo` with the same arguments, or, when the client asked for
//     an ack, acknowledged with the same arguments instead;
//   - `echo-typed`: as `echo` (tpcio reads these arguments with its typed API; in JavaScript
//     they are parsed before any handler runs, so it is the same code);
//   - `broadcast`: re-emitted as `broadcast` with the same arguments to every connected
//     socket of the cluster (`io.emit`). An ack asked for with it is never sent, as in tpcio
//     (and `io.emit` refuses callbacks);
//   - `join(room, ack?)`: the socket joins `room`, then the ack (no arguments) if asked for;
//   - `to(room, ...args)`: `to` with `args` to every member of `room` in the cluster;
//   - `count(ack)` / `count-room(room, ack)`: acks the number of sockets in the cluster
//     (`fetchSockets`), of the room's members; -1 when a node did not answer in time;
//   - `sse(ack)`: `io.serverSideEmit("hello", cb)`; acks the number of other nodes that answered
//     (every node answers `hello` with "node"), -1 on a timeout;
//   - `bcack(ack)`: `io.timeout(3000).emit("q", cb)`; acks how many client acks came back;
//   - `kick(room)`: every member of `room` in the cluster is disconnected (`close`: true);
//   - `move(from, to)`: every member of `from` in the cluster joins `to`.
// A server-side `hello` without an ack (from `@socket.io/redis-emitter`) is accepted and ignored.
// Redis errors are logged, never fatal: node-redis reconnects by itself.
// With a fourth argument `sharded` it runs `createShardedAdapter(pub, sub, {channelPrefix: KEY})`
// instead (Redis 7 sharded pub/sub, `tpcio --redis-adapter sharded`); with `streams`,
// `@socket.io/redis-streams-adapter` 0.3.1's `createAdapter(client, {streamName: KEY,
// channelPrefix: KEY})` (`tpcio --redis-adapter streams --redis-stream KEY`).
// With `--recovery` (anywhere on the command line; `--recovery=MS` sets
// maxDisconnectionDuration, default 2 min), or RECOVERY_MS=MS in the environment, it turns on
// `connectionStateRecovery`, as `tpcio bench --recovery`; a `rooms` event acks
// `{rooms, recovered}` (the socket's rooms, `socket.recovered`).
// Usage: node sio-bench.mjs PORT [REDIS_URL [KEY [classic|sharded|streams]]] [--recovery[=MS]]
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { Server } from "socket.io";

const recoveryArg = process.argv.slice(2).find((a) => a === "--recovery" || a.startsWith("--recovery="));
const [portArg, redisUrl, key = "socket.io", adapterKind = "classic"] = process.argv
  .slice(2)
  .filter((a) => a !== recoveryArg);
const recoveryMs = recoveryArg
  ? recoveryArg.includes("=") ? Number(recoveryArg.split("=")[1]) : 2 * 60 * 1000
  : process.env.RECOVERY_MS ? Number(process.env.RECOVERY_MS) : undefined;
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("usage: node sio-bench.mjs PORT [REDIS_URL [KEY [classic|sharded|streams]]] [--recovery[=MS]]");
  process.exit(2);
}

// With TPCIO_TLS_CERT and TPCIO_TLS_KEY (PEM files, as `tpcio --tls-cert/--tls-key`) it serves
// HTTPS and wss:// (`https.createServer({ cert, key })`).
const tls = process.env.TPCIO_TLS_CERT && process.env.TPCIO_TLS_KEY;
const httpServer = tls
  ? https.createServer({ cert: readFileSync(process.env.TPCIO_TLS_CERT), key: readFileSync(process.env.TPCIO_TLS_KEY) })
  : http.createServer();
const io = new Server(httpServer, {
  path: "/socket.io/",
  pingInterval: 25000,
  pingTimeout: 20000,
  serveClient: false,
  allowEIO3: true,
  // SIO_PARSER=msgpack: socket.io-msgpack-parser 3.0.2, as `tpcio bench --parser msgpack`.
  ...(process.env.SIO_PARSER === "msgpack" ? { parser: (await import("socket.io-msgpack-parser")).default } : {}),
  ...(recoveryMs !== undefined && {
    connectionStateRecovery: { maxDisconnectionDuration: recoveryMs, skipMiddlewares: true },
  }),
});

if (redisUrl) {
  const { createClient } = await import("redis");
  const { createAdapter, createShardedAdapter } = await import("@socket.io/redis-adapter");
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  for (const [name, client] of [["pub", pubClient], ["sub", subClient]]) {
    client.on("error", (err) => console.error(`redis ${name} client: ${err.message ?? err}`));
  }
  // The adapter never awaits its PUBLISHes: one rejected while Redis is down (a command in
  // flight when the connection drops) must not end the process either.
  process.on("unhandledRejection", (err) => console.error(`unhandled rejection: ${err?.message ?? err}`));
  await Promise.all([pubClient.connect(), subClient.connect()]);
  if (adapterKind === "streams") {
    const streams = await import("@socket.io/redis-streams-adapter");
    io.adapter(streams.createAdapter(pubClient, { streamName: key, channelPrefix: key }));
  } else if (adapterKind === "sharded") {
    io.adapter(createShardedAdapter(pubClient, subClient, { channelPrefix: key }));
  } else {
    io.adapter(createAdapter(pubClient, subClient, { key, requestsTimeout: 3000 }));
  }
}

// Splits the client's ack callback (always the last argument) off the event's arguments.
const withoutAck = (args) =>
  typeof args[args.length - 1] === "function" ? [args.slice(0, -1), args[args.length - 1]] : [args, null];

// Answers `ack` with the result of `count`, or -1 when it fails (a node that did not answer).
const answer = (ack, count) => {
  count.then(
    (n) => ack?.(n),
    () => ack?.(-1),
  );
};

io.on("hello", (...received) => {
  const [, cb] = withoutAck(received);
  cb?.("node");
});

io.on("connection", (socket) => {
  // In JavaScript the arguments reach a handler already parsed: `echo-typed` (tpcio's typed
  // API) is the same code as `echo`.
  const echo = (...received) => {
    const [args, ack] = withoutAck(received);
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  };
  socket.on("echo", echo);
  socket.on("echo-typed", echo);
  socket.on("broadcast", (...received) => {
    const [args] = withoutAck(received);
    io.emit("broadcast", ...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("to", (room, ...received) => {
    const [args] = withoutAck(received);
    io.to(room).emit("to", ...args);
  });
  socket.on("count", (ack) => answer(ack, io.fetchSockets().then((s) => s.length)));
  socket.on("count-room", (room, ack) => answer(ack, io.in(room).fetchSockets().then((s) => s.length)));
  socket.on("sse", (ack) => io.serverSideEmit("hello", (err, replies) => ack?.(err ? -1 : replies.length)));
  socket.on("bcack", (ack) => io.timeout(3000).emit("q", (_err, replies) => ack?.(replies.length)));
  socket.on("kick", (room) => io.in(room).disconnectSockets(true));
  socket.on("move", (from, to) => io.in(from).socketsJoin(to));
  socket.on("rooms", (ack) => ack?.({ rooms: [...socket.rooms], recovered: socket.recovered }));
});

httpServer.listen(port, "127.0.0.1", () => {
  const cluster = redisUrl ? ` (${adapterKind} redis adapter on ${redisUrl}, key ${key})` : "";
  const recovery = recoveryMs !== undefined ? `, connectionStateRecovery ${JSON.stringify(io.opts.connectionStateRecovery)}` : "";
  console.log(`socket.io bench (node ${process.version}) listening on http://127.0.0.1:${port}/socket.io/${cluster}${recovery}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
