// One Socket.IO client version over one transport mode, against the application of
// tests/common/sio.rs: `node sio_basic.mjs <port> <4|3> <polling|websocket|upgrade>`.
//
// - 4 clients on `/` at once (auth / query with name + token): welcome, echo of plain and
//   nested binary arguments, client→server acks, server→client acks answered and timed out;
// - one connection multiplexing `/`, `/admin` and `/dyn-7`, plus an invalid `/nope`;
// - refusals: `/` with token "bad" (message + data), `/admin` without the role (message only);
// - disconnects: client `disconnect()`, server `disconnect(false)` (`bye`), server
//   `disconnect(true)` (`close-me`), and the client closing its Engine.IO connection. The
//   server-side reasons are checked by the Rust test; the summary carries the client-side ones.

import assert from "node:assert/strict";
import { parseArgs, runScript } from "./harness.mjs";
import {
  Collector,
  connect,
  emitAck,
  manager,
  nestedBinary,
  norm,
  nspSocket,
  settleTransport,
  transportOf,
  welcomed,
} from "./sio_lib.mjs";

const ctx = parseArgs();
const [mode] = ctx.rest;
const v4 = ctx.eio === 4;
const EVENTS = ["welcome", "echo", "answer"];

async function client(i) {
  const name = `b${i}`;
  const params = { name, token: "ok", extra: "é" };
  const socket = connect(ctx, "/", mode, params);
  const col = new Collector(socket, EVENTS, name);
  // Emitted before the connection exists: the client buffers it until connected.
  socket.emit("echo", "early");
  const w = await welcomed(col, "/", name);
  assert.deepEqual(await col.nth("echo", 1), ["early"]);
  // v2 clients are joined to `/` without a CONNECT, so `auth` is empty there (as in Node).
  assert.deepEqual(w.auth, v4 ? params : {});
  if (v4) assert.equal(w.id, socket.id, "the CONNECT ack's sid is the socket id");
  await settleTransport(socket, mode);

  socket.emit("echo", "hé🙂", 42, null, { nested: { arr: [1, "x", true, 1.5] } });
  assert.deepEqual(await col.nth("echo", 2), ["hé🙂", 42, null, { nested: { arr: [1, "x", true, 1.5] } }]);
  const bin = nestedBinary(name);
  socket.emit("echo", ...bin);
  assert.deepEqual(await col.nth("echo", 3), norm(bin));
  // A burst, text and binary interleaved, comes back complete and in order.
  const burst = [...Array(100).keys()].map((k) => (k % 3 === 0 ? [k, Buffer.from([k])] : [k, `${name}-${k}`]));
  for (const args of burst) socket.emit("echo", ...args);
  await col.nth("echo", 3 + burst.length);
  assert.deepEqual(col.got.echo.slice(3), norm(burst));

  assert.deepEqual(await emitAck(socket, "ack-me", "x", 1, { y: [Buffer.from([9, 8])] }), [
    "x",
    1,
    { y: [Buffer.from([9, 8])] },
  ]);
  assert.deepEqual(await emitAck(socket, "ack-me"), []);

  let late = null;
  socket.on("question", (q, cb) => {
    if (q.silent) late = cb;
    else cb({ double: q.n * 2, raw: q.raw }, Buffer.from([q.n]));
  });
  // The question carries binary too: a BINARY_EVENT with an ack id, answered by a BINARY_ACK.
  socket.emit("ask-client", { n: i + 1, raw: Buffer.from([7, i]) });
  assert.deepEqual(await col.nth("answer", 1), [
    { ok: true, result: [{ double: 2 * (i + 1), raw: Buffer.from([7, i]) }, Buffer.from([i + 1])] },
  ]);
  socket.emit("ask-client", { n: 0, silent: true }, 300);
  assert.deepEqual(await col.nth("answer", 2, 3000), [{ ok: false, error: "operation has timed out" }]);
  // An answer after the timeout is ignored (Node: "bad ack"); the socket carries on.
  assert.equal(typeof late, "function");
  late("too late");
  assert.deepEqual(await emitAck(socket, "ack-me", "still here"), ["still here"]);
  assert.equal(col.got.answer.length, 2);
  assert.equal(transportOf(socket), mode === "polling" ? "polling" : "websocket");
  return { socket, col };
}

/** `/`, `/admin` and `/dyn-7` on one connection; `/nope` refused on it. */
async function multiplexed() {
  const mgr = manager(ctx, mode, { name: "mx" });
  const main = nspSocket(ctx, mgr, "/", { name: "mx" });
  const admin = nspSocket(ctx, mgr, "/admin", { name: "mx-admin", role: "admin" });
  const dyn = nspSocket(ctx, mgr, "/dyn-7", { name: "mx-dyn" });
  const nope = nspSocket(ctx, mgr, "/nope", { name: "mx-nope" });
  const cols = [
    new Collector(main, EVENTS, "mx /"),
    new Collector(admin, EVENTS, "mx /admin"),
    new Collector(dyn, EVENTS, "mx /dyn-7"),
  ];
  const nopeCol = new Collector(nope, EVENTS, "mx /nope");
  await welcomed(cols[0], "/", "mx");
  await welcomed(cols[1], "/admin", "mx-admin");
  await welcomed(cols[2], "/dyn-7", "mx-dyn");
  const err = await nopeCol.refused();
  if (v4) assert.equal(err.message, "Invalid namespace");
  else assert.deepEqual(err, { message: "Invalid namespace" });

  admin.emit("echo", "to admin", Buffer.from([1]));
  dyn.emit("echo", "to dyn");
  assert.deepEqual(await cols[1].nth("echo", 1), ["to admin", Buffer.from([1])]);
  assert.deepEqual(await cols[2].nth("echo", 1), ["to dyn"]);
  assert.deepEqual(await emitAck(dyn, "ack-me", { on: "dyn" }), [{ on: "dyn" }]);
  // The same connection still serves `/`: by now any misrouted echo would have arrived.
  main.emit("echo", "to main");
  assert.deepEqual(await cols[0].nth("echo", 1), ["to main"]);
  assert.equal(cols[0].got.echo.length, 1);
  assert.equal(cols[1].got.echo.length, 1);
  assert.equal(cols[2].got.echo.length, 1);

  // Leaving one namespace keeps the others; the echo after it orders the DISCONNECT first.
  admin.disconnect();
  assert.equal(await cols[1].disconnected(), "io client disconnect");
  main.emit("echo", "after admin left");
  assert.deepEqual(await cols[0].nth("echo", 2), ["after admin left"]);
  assert.equal(main.connected && dyn.connected, true);
  // Joining it again on the same connection gives a new socket there.
  admin.connect();
  const again = (await cols[1].nth("welcome", 2))[0];
  assert.equal(again.nsp, "/admin");
  assert.notEqual(again.id, cols[1].got.welcome[0][0].id);
  assert.deepEqual(await emitAck(admin, "ack-me", "back"), ["back"]);
  admin.disconnect();
  assert.equal(await cols[1].disconnected(1), "io client disconnect");
  main.disconnect();
  dyn.disconnect();
  assert.equal(await cols[0].disconnected(), "io client disconnect");
  assert.equal(await cols[2].disconnected(), "io client disconnect");
}

async function refusals() {
  const bad = connect(ctx, "/", mode, { name: "bad", token: "bad" });
  const badCol = new Collector(bad, EVENTS, "bad token");
  const err = await badCol.refused();
  if (v4) {
    assert.ok(err instanceof Error);
    assert.equal(err.message, "not authorized");
    assert.deepEqual(err.data, { code: 42 });
    assert.equal(bad.active, false, "a middleware refusal is final");
    // Retrying with new credentials on the same connection succeeds.
    bad.auth = { name: "bad-then-good", token: "ok" };
    bad.connect();
    await welcomed(badCol, "/", "bad-then-good");
    bad.disconnect();
  } else {
    // Node sends a v4-protocol client `err.data || err.message`.
    assert.deepEqual(err, { code: 42 });
  }
  assert.equal(bad.connected, false);
  bad.close();

  const notAdmin = connect(ctx, "/admin", mode, { name: "guest" });
  const err2 = await new Collector(notAdmin, EVENTS, "guest /admin").refused();
  if (v4) {
    assert.equal(err2.message, "admins only");
    assert.equal(err2.data, undefined);
  } else {
    assert.equal(err2, "admins only");
  }
  notAdmin.close();
}

runScript("sio_basic", 15000, async () => {
  const clients = await Promise.all([0, 1, 2, 3].map(client));
  await multiplexed();
  await refusals();

  const [c0, c1, c2, c3] = clients;
  c0.socket.disconnect();
  c1.socket.emit("bye");
  c2.socket.emit("close-me");
  c3.socket.io.engine.close();
  const reasons = {
    disconnect: await c0.col.disconnected(),
    bye: await c1.col.disconnected(),
    closeMe: await c2.col.disconnected(),
    engineClose: await c3.col.disconnected(),
  };
  assert.equal(reasons.disconnect, "io client disconnect");
  assert.equal(reasons.bye, "io server disconnect");
  assert.equal(reasons.closeMe, "io server disconnect");
  for (const { socket } of clients) socket.close();
  return { verified: `sio basic eio=${ctx.eio} ${mode}`, reasons };
});
