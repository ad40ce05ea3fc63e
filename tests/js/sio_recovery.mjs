// Connection state recovery with the official socket.io-client 4.8:
// `node sio_recovery.mjs <port> 4 <scenario>`, against the application of tests/npm_recovery.rs
// (2 shards, `connection_state_recovery` on).
//
// - `basic`: a client joins a room and gets broadcasts (so it has an offset), its transport is
//   cut (`socket.io.engine.close()`), another client has the server broadcast N packets to the
//   room meanwhile, and the first one reconnects by itself: it must be recovered (same id),
//   get every missed packet exactly once and in order, still be in its room, keep its data,
//   and its recovery must not have run the connect middleware.
// - `shards`: the same cut and reconnection, repeated (at most 40 times) until the
//   reconnection landed once on the shard that served the socket before and once on the other.
// - `expiry`: the server keeps sessions 300 ms; a client back after 1.2 s gets a fresh socket.
// - `invalid`: a CONNECT with a pid the server never gave (and an unknown offset) gets a fresh
//   socket.

import assert from "node:assert/strict";
import { parseArgs, runScript, within } from "./harness.mjs";
import { Collector, connect, emitAck } from "./sio_lib.mjs";

const ctx = parseArgs();
const scenario = ctx.rest[0];

/** The `welcome` of the socket's n-th connection (1-based), without its offset. */
async function welcome(col, n) {
  const [w] = await col.nth("welcome", n, 5000);
  return w;
}

/** The `msg` events with tag `tag`, as their indexes in arrival order. */
function msgs(col, tag) {
  return col.got.msg.filter(([t]) => t === tag).map(([, i]) => i);
}

async function flood(trigger, room, tag, n) {
  const [done] = await emitAck(trigger, "flood", room, tag, n);
  assert.equal(done, true);
}

/** Cuts the client's transport and waits until it is connected again (by itself). */
async function cutAndReconnect(socket, col, n, meanwhile) {
  const reasons = col.reasons.length;
  socket.io.engine.close();
  await col.disconnected(reasons, 5000);
  assert.equal(socket.connected, false);
  await meanwhile();
  return welcome(col, n);
}

const ROOM_CLIENT = { reconnection: true, reconnectionDelay: 400, reconnectionDelayMax: 400 };

async function recoveringClient(name) {
  const socket = connect(ctx, "/", "websocket", { name }, ROOM_CLIENT);
  const col = new Collector(socket, ["welcome", "msg"], name);
  const first = await welcome(col, 1);
  assert.equal(first.recovered, false);
  assert.equal(first.id, socket.id);
  const [joined] = await emitAck(socket, "join", "r");
  assert.equal(joined, true);
  return { socket, col, first };
}

async function trigger() {
  const socket = connect(ctx, "/", "websocket", { name: "trigger" });
  const col = new Collector(socket, ["welcome"], "trigger");
  await welcome(col, 1);
  return socket;
}

/** One cut while `count` packets of `tag` go to the room; checks the recovery. */
async function recoverOnce(a, b, n, tag, count) {
  const before = a.socket.id;
  const w = await cutAndReconnect(a.socket, a.col, n, () => flood(b, "r", tag, count));
  assert.equal(w.recovered, true, `connection ${n}: recovered`);
  assert.equal(a.socket.recovered, true, `connection ${n}: socket.recovered`);
  assert.equal(a.socket.id, before, "the same socket id");
  assert.equal(w.id, before);
  assert.equal(w.name, a.first.name, "the socket's data came back");
  await a.col.wait(`${count} missed ${tag}`, () => msgs(a.col, tag).length >= count);
  return w;
}

async function checkExactlyOnce(col, tag, count) {
  // Anything duplicated would arrive right behind: one more round trip to be sure.
  await emitAck(col.socket, "stats");
  assert.deepEqual(msgs(col, tag), [...Array(count).keys()], `${tag}: each once, in order`);
}

const scenarios = {
  async basic() {
    const a = await recoveringClient("a");
    const b = await trigger();
    await flood(b, "r", "live", 3);
    await a.col.wait("3 live", () => msgs(a.col, "live").length === 3);
    const [authorizedBefore] = await emitAck(b, "stats");

    const w = await recoverOnce(a, b, 2, "missed", 10);
    await checkExactlyOnce(a.col, "missed", 10);
    assert.deepEqual(msgs(a.col, "live"), [0, 1, 2]);
    const [authorizedAfter] = await emitAck(b, "stats");
    assert.equal(authorizedAfter, authorizedBefore, "skip_middlewares: no authorize for a recovery");

    // Still in its room: a new broadcast reaches it.
    await flood(b, "r", "after", 2);
    await a.col.wait("2 after", () => msgs(a.col, "after").length === 2);
    const [me] = await emitAck(a.socket, "whoami");
    assert.ok(me.rooms.includes("r"), `rooms ${me.rooms}`);
    assert.equal(me.recovered, true);

    // A plain socket.emit carries an offset too: a second cut right after a unicast recovers.
    const [pong] = await emitAck(a.socket, "unicast");
    assert.equal(pong, true);
    await a.col.wait("the unicast", () => msgs(a.col, "unicast").length === 1);
    await recoverOnce(a, b, 3, "missed2", 4);
    await checkExactlyOnce(a.col, "missed2", 4);
    a.socket.close();
    b.close();
    return { verified: "sio recovery basic", shards: [a.first.shard, w.shard] };
  },

  async shards() {
    const a = await recoveringClient("s");
    const b = await trigger();
    await flood(b, "r", "live", 1);
    await a.col.wait("1 live", () => msgs(a.col, "live").length === 1);
    let shard = a.first.shard;
    let same = 0;
    let cross = 0;
    let n = 1;
    while ((same === 0 || cross === 0) && n <= 40) {
      n += 1;
      const w = await recoverOnce(a, b, n, `m${n}`, 3);
      await checkExactlyOnce(a.col, `m${n}`, 3);
      if (w.shard === shard) same += 1;
      else cross += 1;
      shard = w.shard;
    }
    assert.ok(same > 0 && cross > 0, `same shard ${same}, other shard ${cross}`);
    a.socket.close();
    b.close();
    return { verified: "sio recovery shards", same, cross };
  },

  async expiry() {
    const socket = connect(ctx, "/", "websocket", { name: "e" }, { ...ROOM_CLIENT, reconnectionDelay: 1200, reconnectionDelayMax: 1200 });
    const col = new Collector(socket, ["welcome", "msg"], "e");
    const first = await welcome(col, 1);
    await emitAck(socket, "join", "r");
    const b = await trigger();
    await flood(b, "r", "live", 1);
    await col.wait("1 live", () => msgs(col, "live").length === 1);
    const w = await cutAndReconnect(socket, col, 2, async () => {});
    assert.equal(w.recovered, false);
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, first.id, "a new socket");
    const [me] = await emitAck(socket, "whoami");
    assert.ok(!me.rooms.includes("r"), "a fresh socket is in no room");
    socket.close();
    b.close();
    return { verified: "sio recovery expiry" };
  },

  async invalid() {
    const auth = { name: "i", pid: "AAAAAAAAAAAAAAAAAAAA", offset: "PjssgW0.0" };
    const socket = connect(ctx, "/", "websocket", auth);
    const col = new Collector(socket, ["welcome"], "i");
    const w = await welcome(col, 1);
    assert.equal(w.recovered, false);
    assert.equal(socket.recovered, false);
    assert.equal(w.id, socket.id);
    const junk = connect(ctx, "/", "websocket", { name: "j", pid: "not a pid", offset: 12 });
    const jcol = new Collector(junk, ["welcome"], "j");
    assert.equal((await welcome(jcol, 1)).recovered, false);
    socket.close();
    junk.close();
    return { verified: "sio recovery invalid" };
  },
};

runScript(`sio_recovery ${scenario}`, 40000, async () => {
  assert.equal(ctx.eio, 4, "recovery needs the v5 client");
  const run = scenarios[scenario];
  if (!run) throw new Error(`unknown scenario ${scenario}`);
  return within(38000, scenario, run());
});
