// socket.io-client 4 over HTTPS and wss:// against the conformance server served with TLS
// (tests/tls.rs): `node sio_tls.mjs <port> 4 <ca.pem>`. The client trusts the test's own
// certificate authority (`ca`), nothing else.
//
// - a client that does not trust the authority is refused by its own TLS check;
// - per transport mode (polling, websocket, polling then upgrade), 4 clients at once (their
//   sessions on both shards, their later connections landing on either): the CONNECT, an
//   event echoed with text and binary, an ack, and a burst that comes back whole and in order.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { io } from "socket.io-client";
import { parseArgs, runScript, within } from "./harness.mjs";

const ctx = parseArgs();
const [caPath] = ctx.rest;
const ca = readFileSync(caPath);
const url = `https://localhost:${ctx.port}`;
const TRANSPORTS = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] };
const WAIT = 10_000;

function connect(mode, extra = {}) {
  return io(url, {
    transports: TRANSPORTS[mode],
    upgrade: mode === "upgrade",
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    ca,
    auth: { mode },
    ...extra,
  });
}

/** Resolves with the arguments of the next `event` on `socket`. */
function next(socket, event) {
  return within(WAIT, `${event}`, new Promise((resolve) => socket.once(event, (...args) => resolve(args))));
}

async function client(mode, i) {
  const socket = connect(mode);
  const [auth] = await next(socket, "auth");
  assert.deepEqual(auth, { mode });
  if (mode === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    await within(WAIT, "upgrade", new Promise((resolve) => socket.io.engine.once("upgrade", resolve)));
  }
  const binary = Buffer.from([i, 0, 255, 7]);
  socket.emit("message", `hé ${i} 🙂`, { n: i }, binary);
  assert.deepEqual(await next(socket, "message-back"), [`hé ${i} 🙂`, { n: i }, binary]);
  const acked = await within(
    WAIT,
    "ack",
    new Promise((resolve, reject) =>
      socket.timeout(WAIT).emit("message-with-ack", i, "ack", binary, (err, ...args) => (err ? reject(err) : resolve(args))),
    ),
  );
  assert.deepEqual(acked, [i, "ack", binary]);
  // A burst: every message back, in order.
  const got = [];
  const all = new Promise((resolve) =>
    socket.on("message-back", (n) => {
      got.push(n);
      if (got.length === 50) resolve();
    }),
  );
  for (let k = 0; k < 50; k++) socket.emit("message", k);
  await within(WAIT, "burst", all);
  assert.deepEqual(got, [...Array(50).keys()]);
  const transport = socket.io.engine.transport.name;
  assert.equal(transport, mode === "polling" ? "polling" : "websocket");
  socket.disconnect();
  return transport;
}

runScript("sio_tls", 60_000, async () => {
  // Without the authority the client's own certificate check refuses the server.
  const untrusting = connect("polling", { ca: undefined });
  const [err] = await next(untrusting, "connect_error");
  assert.equal(err.message, "xhr poll error");
  assert.equal(untrusting.connected, false);
  untrusting.close();

  const transports = {};
  for (const mode of Object.keys(TRANSPORTS)) {
    transports[mode] = await Promise.all([0, 1, 2, 3].map((i) => client(mode, i)));
  }
  return { verified: "socket.io-client over https and wss", transports };
});
