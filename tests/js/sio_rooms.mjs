// Rooms and broadcasts across both shards: `node sio_rooms.mjs <port> <4|3> [mixed]`.
//
// At least 8 clients on `/`, their transports cycling polling / websocket / upgrade (with
// `mixed`, their versions alternate too: v4 and v2 clients in the same rooms). Half of them
// are in room "blue" (by `room` in auth/query at connect, or by a `join` event), and more
// clients connect until members and non-members each sit on both shards. Then, step by step:
// `to-room` from a non-member and from a member, `broadcast`, `all-except blue` and
// `volatile`, then `to(<socket id>)` of a socket on the other shard; each step waits for every expected recipient, then a round trip on every client
// flushes anything misdelivered, and each client must have got the step exactly once, or never.
// Two clients of `/dyn-rooms`, in a room also named "blue", must never get anything.

import assert from "node:assert/strict";
import { parseArgs, runScript } from "./harness.mjs";
import { Collector, connect, emitAck, MODES, nestedBinary, norm, settleTransport, welcomed } from "./sio_lib.mjs";

const ctx = parseArgs();
const mixed = ctx.rest.includes("mixed");
const EVENTS = ["welcome", "echo", "room-msg", "broadcast-msg", "except-msg", "volatile-msg"];
const ROOM = "blue";
const clients = [];
/** Clients of another namespace, in a room of the same name: they must never hear of `/`. */
const foreign = [];

async function add(i, member) {
  const name = `r${i}`;
  const mode = MODES[i % MODES.length];
  const cctx = mixed ? { ...ctx, eio: i % 2 === 0 ? 4 : 3 } : ctx;
  const byAuth = member && i % 4 === 0;
  const params = byAuth ? { name, room: ROOM } : { name };
  const socket = connect(cctx, "/", mode, params);
  const col = new Collector(socket, EVENTS, `${name} (eio=${cctx.eio} ${mode})`);
  const w = await welcomed(col, "/", name);
  if (member && !byAuth) assert.deepEqual(await emitAck(socket, "join", ROOM), [true]);
  await settleTransport(socket, mode);
  const c = { name, socket, col, member, shard: w.shard, id: w.id };
  clients.push(c);
  return c;
}

const shardsOf = (list) => [...new Set(list.map((c) => c.shard))].sort();

async function addForeign(i) {
  const name = `f${i}`;
  const socket = connect(ctx, "/dyn-rooms", MODES[i % MODES.length], { name, room: ROOM });
  const col = new Collector(socket, EVENTS, `${name} /dyn-rooms`);
  await welcomed(col, "/dyn-rooms", name);
  foreign.push({ name, socket, col, member: "foreign" });
}

/** Connects clients until members and non-members both span shards 0 and 1. */
async function populate() {
  await Promise.all([
    ...[...Array(8).keys()].map((i) => add(i, i % 2 === 0)),
    ...[0, 1].map(addForeign),
  ]);
  let next = clients.length;
  for (const member of [true, false]) {
    while (shardsOf(clients.filter((c) => c.member === member)).length < 2) {
      if (next >= 40) throw new Error(`no ${member ? "member" : "non-member"} landed on both shards`);
      await add(next++, member);
    }
  }
}

let syncs = 0;

/** A round trip on every client: whatever the server queued for it before has arrived. */
async function flush() {
  const tag = `sync-${++syncs}`;
  await Promise.all(
    [...clients, ...foreign].map((c) => {
      c.socket.emit("echo", tag);
      return c.col.wait(tag, () => c.col.got.echo.some((a) => a[0] === tag));
    }),
  );
}

let steps = 0;

/** `sender` emits `out` (with `prefix` args first); exactly `expected` get `inEvent` once. */
async function step(what, sender, out, prefix, inEvent, expected) {
  const n = ++steps;
  const payload = [{ step: n, what, from: sender.name, bin: nestedBinary(`s${n}`)[0] }, Buffer.from([n, 0, 255])];
  assert.deepEqual(await emitAck(sender.socket, out, ...prefix, ...payload), [true], `${what}: ack`);
  const mine = (c) => c.col.got[inEvent].filter((args) => args[0] && args[0].step === n);
  await Promise.all(expected.map((c) => c.col.wait(`${what} (step ${n})`, () => mine(c).length >= 1)));
  await flush();
  const want = new Set(expected.map((c) => c.name));
  for (const c of [...clients, ...foreign]) {
    const got = mine(c);
    assert.equal(got.length, want.has(c.name) ? 1 : 0, `${what}: ${c.name} (member=${c.member}) got ${got.length}`);
    if (got.length) assert.deepEqual(got[0], norm(payload), `${what}: ${c.name} payload`);
  }
  return expected.length;
}

runScript("sio_rooms", 15000, async () => {
  await populate();
  const members = clients.filter((c) => c.member);
  const others = clients.filter((c) => !c.member);
  const [outsider, insider] = [others[0], members[0]];
  const counts = {
    toRoomFromOutsider: await step("to-room from a non-member", outsider, "to-room", [ROOM], "room-msg", members),
    toRoomFromMember: await step(
      "to-room from a member",
      insider,
      "to-room",
      [ROOM],
      "room-msg",
      members.filter((c) => c !== insider),
    ),
    broadcast: await step(
      "broadcast",
      clients[1],
      "broadcast",
      [],
      "broadcast-msg",
      clients.filter((c) => c !== clients[1]),
    ),
    allExcept: await step("all-except blue", outsider, "all-except", [ROOM], "except-msg", others),
    volatile: await step("volatile", clients[2], "volatile", [], "volatile-msg", clients),
  };
  // Every socket is in the room of its own id: a private message to a socket on the other shard.
  const from = clients.find((c) => c.shard === 0);
  const to = clients.find((c) => c.shard === 1);
  counts.toSocketId = await step("to(socket id) across shards", from, "to-room", [to.id], "room-msg", [to]);
  for (const c of [...clients, ...foreign]) c.socket.close();
  return {
    verified: `sio rooms eio=${ctx.eio}${mixed ? " mixed" : ""}`,
    clients: clients.length,
    memberShards: shardsOf(members),
    otherShards: shardsOf(others),
    counts,
  };
});
