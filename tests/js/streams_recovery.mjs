// Connection state recovery across nodes with @socket.io/redis-streams-adapter 0.3.1, driven by
// tests/streams_recovery.rs: `node streams_recovery.mjs SCENARIO FIRST_URL SECOND_URL`. The client
// `c` starts on FIRST, the helper `d` stays on SECOND; both join room `r`. Offsets must be stream
// entry ids, the same on both nodes for one broadcast.
//
// - `crash`: `c` has an offset and its session is written (`need kill-first <pid>` on stdout;
//   the test waits until Redis holds the session with room `r`, SIGKILLs FIRST, and answers
//   `killed` on stdin); `d` broadcasts m1..m3 to `r`; `c` reconnects to SECOND: recovered, same
//   id, m1..m3 once and in order, then a live `m4`, still in `r`.
// - `closed`: the same, but `c`'s transport is cut (`socket.io.engine.close()`) before FIRST is
//   killed, so a Node FIRST wrote the session on close (Node's `persistSession`).
// - `lost`: `c` is still connected when FIRST is SIGKILLed: with a Node FIRST no session
//   exists (socket.io-redis-streams-adapter#27), so `c` gets a fresh socket on SECOND.
// - `takeover`: while `c` is still connected, a second client connects to FIRST with its pid and
//   offset (`need session <pid>`, answered `ok` once Redis holds the session): it gets the
//   socket (same id, rooms, recovered) and the old connection is disconnected (`io server
//   disconnect`), so one socket has that id in the cluster.
// Every scenario also checks that a CONNECT with a pid no node gave gets a fresh socket.
// Ends with `{"ok":true,"verified":"streams recovery <scenario>",...}`.

import assert from "node:assert/strict";
import readline from "node:readline";
import { io } from "socket.io-client";
import { runScript, within } from "./harness.mjs";

const [scenario, firstUrl, secondUrl] = process.argv.slice(2);
const ENTRY_ID = /^[0-9]+-[0-9]+$/;
const stdin = readline.createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();

function client(url, auth) {
  return io(url, { transports: ["websocket"], reconnection: false, forceNew: true, auth });
}

function connected(socket) {
  return within(10000, "connect", new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }));
}

function ack(socket, ...args) {
  return within(10000, `ack of ${args[0]}`, socket.emitWithAck(...args));
}

/** Every `to` event a socket gets: [tag, offset]. */
function record(socket) {
  const got = [];
  const waiters = [];
  socket.on("to", (...args) => {
    got.push(args);
    for (const w of waiters.splice(0)) w();
  });
  const until = (tag) =>
    within(10000, `event ${tag}`, new Promise((resolve) => {
      const check = () => {
        const hit = got.find(([t]) => t === tag);
        if (hit) resolve(hit);
        else waiters.push(check);
      };
      check();
    }));
  return { got, until };
}

async function freshPid() {
  const e = client(secondUrl, { pid: "AAAAAAAAAAAAAAAAAAAA", offset: "1-0" });
  await connected(e);
  const { rooms, recovered } = await ack(e, "rooms");
  assert.equal(recovered, false, "an unknown pid gives a fresh socket");
  assert.deepEqual(rooms, [e.id]);
  e.close();
}

runScript(`streams recovery ${scenario}`, 120000, async () => {
  const c = client(firstUrl);
  const d = client(secondUrl);
  await Promise.all([connected(c), connected(d)]);
  const cs = record(c);
  const ds = record(d);
  await ack(c, "join", "r");
  await ack(d, "join", "r");
  // A broadcast from each node: both deliver it with the same stream id as its offset.
  d.emit("to", "r", "from-second");
  const [, o1] = await cs.until("from-second");
  assert.match(o1, ENTRY_ID);
  assert.equal((await ds.until("from-second"))[1], o1);
  c.emit("to", "r", "from-first");
  const [, o2] = await ds.until("from-first");
  assert.match(o2, ENTRY_ID);
  assert.equal((await cs.until("from-first"))[1], o2);
  const { id, _pid: pid } = c;
  assert.ok(pid, "the server gave a pid");

  if (scenario === "takeover") {
    // A second connection with `c`'s pid and offset while `c` still lives, on `c`'s node.
    console.log(`need session ${pid}`);
    assert.equal((await lines.next()).value, "ok");
    const kicked = new Promise((resolve) => c.once("disconnect", resolve));
    const c2 = client(firstUrl, { pid, offset: o2 });
    await connected(c2);
    const c2s = record(c2);
    assert.equal(await within(10000, "the old socket's disconnect", kicked), "io server disconnect");
    assert.equal(c2.id, id, "the id moved to the new connection");
    const { rooms, recovered } = await ack(c2, "rooms");
    assert.equal(recovered, true);
    assert.ok(rooms.includes("r"), `rooms ${rooms}`);
    d.emit("to", "r", "after");
    await c2s.until("after");
    await ds.until("after");
    assert.deepEqual(c2s.got.map(([t]) => t), ["after"], "delivered once");
    const count = await ack(d, "count-room", "r");
    assert.equal(count, 2, "one socket with that id in the cluster, and d");
    await freshPid();
    c2.close();
    d.close();
    stdin.close();
    return { verified: `streams recovery ${scenario}`, recovered: true };
  }
  if (scenario === "closed") {
    const gone = new Promise((resolve) => c.once("disconnect", resolve));
    c.io.engine.close();
    await within(10000, "disconnect", gone);
  }
  console.log(`need kill-first ${pid}`);
  const answer = await lines.next();
  assert.equal(answer.value, "killed");
  if (c.connected) {
    await within(15000, "disconnect after the kill", new Promise((resolve) => c.once("disconnect", resolve)));
  }

  // Missed while away; `d` gets each too, so each is in the stream.
  for (const tag of ["m1", "m2", "m3"]) d.emit("to", "r", tag);
  await ds.until("m3");
  const before = cs.got.length;
  c.io.uri = secondUrl;
  c.connect();
  await connected(c);
  const done = async () => {
    await freshPid();
    c.close();
    d.close();
    stdin.close();
  };
  if (scenario === "lost") {
    const { rooms, recovered } = await ack(c, "rooms");
    assert.equal(c.recovered, false, "no session: a fresh socket");
    assert.equal(recovered, false);
    assert.notEqual(c.id, id);
    assert.deepEqual(rooms, [c.id]);
    assert.deepEqual(cs.got.slice(before), [], "nothing replayed");
    await done();
    return { verified: `streams recovery ${scenario}`, recovered: false };
  }
  d.emit("to", "r", "m4");
  await cs.until("m4");
  const after = cs.got.slice(before);
  const { rooms, recovered } = await ack(c, "rooms");
  const { id: newId, recovered: clientRecovered } = c;
  await done();
  assert.equal(clientRecovered, true, "recovered");
  assert.equal(recovered, true, "the server says recovered");
  assert.equal(newId, id, "same id");
  assert.ok(rooms.includes("r") && rooms.includes(id), `rooms ${rooms}`);
  assert.deepEqual(after.map(([t]) => t), ["m1", "m2", "m3", "m4"], "missed once, in order, then live");
  const offsets = after.map(([, o]) => o);
  for (const o of offsets) assert.match(o, ENTRY_ID);
  assert.deepEqual(offsets, ds.got.filter(([t]) => /^m[1-4]$/.test(t)).map(([, o]) => o), "same offsets");
  return { verified: `streams recovery ${scenario}`, recovered: true, offsets };
});
