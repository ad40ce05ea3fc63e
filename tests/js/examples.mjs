// Drives the examples of examples/*.rs (started by tests/examples.rs) with the real clients:
// `node examples.mjs <port> <eio: 3|4> <example> [second port]`. Each scenario asserts what a
// newcomer would see and ends with one summary line (see harness.mjs). Every wait is bounded.

import assert from "node:assert/strict";
import { parseArgs, runScript, within } from "./harness.mjs";
import { Collector, connect, emitAck, norm } from "./sio_lib.mjs";

const ctx = parseArgs();
const [example, secondPort] = ctx.rest;
const MODE = "websocket";

/** A connected socket and its collector of `events`; rejects if refused. */
async function member(label, params, events, port = ctx.port) {
  const socket = connect({ ...ctx, port }, "/", MODE, params);
  const col = new Collector(socket, events, label);
  await within(5000, `${label}: connect`, new Promise((resolve, reject) => {
    if (socket.connected) resolve();
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
    socket.once("error", reject);
  }));
  return { socket, col };
}

async function refusal(params) {
  const socket = connect(ctx, "/", MODE, params);
  const col = new Collector(socket, [], "refused");
  const err = await col.refused();
  socket.close();
  return err;
}

const scenarios = {
  async chat() {
    const err = await refusal({});
    assert.equal(err.message, "a nick name is required");
    const ann = await member("ann", { nick: "ann" }, ["joined", "said", "typing", "left"]);
    const bob = await member("bob", { nick: "bob" }, ["said", "typing"]);
    assert.deepEqual(await ann.col.nth("joined", 1), ["bob"]);
    bob.socket.emit("join", "r1");
    // Once the ack of `online` comes, `join` (sent before it on the same socket) was handled.
    const [online] = await emitAck(bob.socket, "online");
    assert.ok(online >= 1 && online <= 2, `online ${online}`);
    ann.socket.emit("say", { room: "r1", text: "hi é🙂" });
    assert.deepEqual(await bob.col.nth("said", 1), ["ann", "hi é🙂"]);
    ann.socket.emit("typing", { raw: true }, Buffer.from([1, 2, 3]));
    assert.deepEqual(await bob.col.nth("typing", 1), [{ raw: true }, Buffer.from([1, 2, 3])]);
    bob.socket.close();
    assert.deepEqual(await ann.col.nth("left", 1), ["bob"]);
    assert.equal(ann.col.got.said.length, 0, "the sender does not get its own message");
    ann.socket.close();
    return { verified: "chat", online };
  },

  async auth() {
    const err = await refusal({ token: "nope" });
    assert.equal(err.message, "unknown token");
    assert.deepEqual(err.data, { code: 401 });
    const ann = await member("ann", { token: "t-ann" }, []);
    const bob = await member("bob", { token: "t-bob" }, []);
    assert.deepEqual(await emitAck(ann.socket, "whoami"), [{ name: "ann", role: "admin", posts: 0 }]);
    ann.socket.emit("post", "one");
    ann.socket.emit("post", "two");
    ann.socket.emit("post", 3); // not a string: dropped, not counted
    assert.deepEqual(await emitAck(ann.socket, "whoami"), [{ name: "ann", role: "admin", posts: 2 }]);
    assert.deepEqual(await emitAck(bob.socket, "whoami"), [{ name: "bob", role: "member", posts: 0 }]);
    assert.deepEqual(await emitAck(bob.socket, "kick-all"), [false]);
    assert.ok(bob.socket.connected && ann.socket.connected);
    assert.deepEqual(await emitAck(ann.socket, "kick-all"), [true]);
    assert.equal(await bob.col.disconnected(), "io server disconnect");
    ann.socket.close();
    return { verified: "auth" };
  },

  async rooms() {
    assert.equal((await refusal({})).message, "a name is required");
    const ann = await member("ann", { name: "ann" }, ["room message", "private message"]);
    const bob = await member("bob", { name: "bob" }, ["room message", "private message"]);
    const [rooms] = await emitAck(bob.socket, "join", "r");
    assert.deepEqual(rooms.filter((r) => !r.startsWith("user:") && r !== bob.socket.id).sort(), ["r"]);
    assert.ok(rooms.includes("user:bob"), JSON.stringify(rooms));
    ann.socket.emit("to room", "r", "hello");
    assert.deepEqual(await bob.col.nth("room message", 1), [{ room: "r", from: "ann", text: "hello" }]);
    assert.deepEqual(await emitAck(ann.socket, "private", { to: "bob", text: "psst" }), [1]);
    assert.deepEqual(await bob.col.nth("private message", 1), [{ from: "ann", text: "psst" }]);
    assert.deepEqual(await emitAck(ann.socket, "private", { to: "nobody", text: "?" }), [0]);
    const [left] = await emitAck(bob.socket, "leave", "r");
    assert.ok(!left.includes("r"), JSON.stringify(left));
    ann.socket.emit("to room", "r", "anyone?");
    // `private` goes after `to room` on the same socket: once it is answered, a room message
    // would have arrived first.
    assert.deepEqual(await emitAck(ann.socket, "private", { to: "bob", text: "again" }), [1]);
    await bob.col.nth("private message", 2);
    assert.equal(bob.col.got["room message"].length, 1, "bob left r");
    assert.equal(ann.col.got["room message"].length, 0, "the sender is left out");
    ann.socket.close();
    bob.socket.close();
    return { verified: "rooms" };
  },

  async acks() {
    const ann = await member("ann", {}, []);
    ann.socket.on("question", (q, cb) => cb(`ann answers ${q}`));
    ann.socket.on("vote", (q, cb) => cb("yes"));
    const mute = await member("mute", {}, []);
    mute.socket.on("question", () => {});
    mute.socket.on("vote", () => {});
    assert.deepEqual(await emitAck(ann.socket, "add", 2, 3.5), [5.5]);
    assert.deepEqual(await emitAck(ann.socket, "ask", 2000), [{ answer: "ann answers your name?", error: null }]);
    const started = Date.now();
    assert.deepEqual(await emitAck(mute.socket, "ask", 300), [{ answer: null, error: "operation has timed out" }]);
    const waited = Date.now() - started;
    assert.ok(waited >= 290 && waited < 3000, `waited ${waited} ms`);
    // Two clients, one silent: the poll times out with the one answer.
    assert.deepEqual(await emitAck(ann.socket, "poll", 300), [false, 1]);
    mute.socket.close();
    await within(5000, "mute gone", (async () => {
      while (true) {
        const [complete, n] = await emitAck(ann.socket, "poll", 300);
        if (complete) return assert.equal(n, 1);
      }
    })());
    ann.socket.close();
    return { verified: "acks", waited };
  },

  async upload() {
    const ann = await member("ann", {}, ["reversed"]);
    const data = Buffer.alloc(100_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const sum = data.reduce((a, b) => a + b, 0);
    assert.deepEqual(await emitAck(ann.socket, "upload", { name: "a.bin", data }), [{ name: "a.bin", size: data.length, sum }]);
    const [name, back] = await ann.col.nth("reversed", 1);
    assert.equal(name, "a.bin");
    assert.ok(Buffer.isBuffer(back), `a buffer came back: ${typeof back}`);
    assert.deepEqual(back, Buffer.from(data).reverse());
    // Not an upload: dropped, the connection stays.
    ann.socket.emit("upload", "not an object");
    const [small] = await emitAck(ann.socket, "upload", { name: "b", data: Buffer.from([250, 10]) });
    assert.deepEqual(small, { name: "b", size: 2, sum: 260 });
    ann.socket.close();
    return { verified: "upload" };
  },

  async raw() {
    const ann = await member("ann", {}, ["echo", "broadcast"]);
    const bob = await member("bob", {}, ["broadcast"]);
    const args = [{ a: [1, 2.5, "é"] }, Buffer.from([0, 255]), null];
    ann.socket.emit("echo", ...args);
    assert.deepEqual(await ann.col.nth("echo", 1), norm(args));
    assert.deepEqual(await emitAck(ann.socket, "echo", ...args), norm(args));
    ann.socket.emit("broadcast", "all", 1);
    assert.deepEqual(await bob.col.nth("broadcast", 1), ["all", 1]);
    assert.deepEqual(await ann.col.nth("broadcast", 1), ["all", 1]);
    ann.socket.close();
    bob.socket.close();
    return { verified: "raw" };
  },

  async typed() {
    const ann = await member("ann", {}, ["pair", "struct", "unknown"]);
    ann.socket.on("q", (s, n, cb) => cb(`${s}!`, n + 1));
    ann.socket.emit("pair", "a", 1);
    assert.deepEqual(await ann.col.nth("pair", 1), [1, "a"]);
    ann.socket.emit("pair", 1, "a"); // does not fit (String, u32): dropped
    ann.socket.emit("struct", "not an object"); // does not fit Msg: dropped
    ann.socket.emit("struct", { text: "t", n: 1.5, extra: true });
    assert.deepEqual(await ann.col.nth("struct", 1), [{ text: "t", n: 1.5 }]);
    const [len, reversed] = await emitAck(ann.socket, "blob", Buffer.from([1, 2, 3]));
    assert.equal(len, 3);
    assert.deepEqual(reversed, Buffer.from([3, 2, 1]));
    ann.socket.emit("whatever", 1);
    assert.deepEqual(await ann.col.nth("unknown", 1), ["whatever"]);
    assert.deepEqual(await emitAck(ann.socket, "ask"), ["x!", 2]);
    // The events that did not fit did not reach a handler, and the socket is still here.
    assert.equal(ann.col.got.pair.length, 1);
    assert.equal(ann.col.got.struct.length, 1);
    assert.ok(ann.socket.connected);
    ann.socket.close();
    return { verified: "typed" };
  },

  async cluster() {
    const port2 = Number(secondPort);
    const ann = await member("ann", {}, ["shout"]);
    const bob = await member("bob", {}, ["shout"], port2);
    // The subscriptions of both processes are up once each sees the other answer.
    await within(10_000, "both servers", (async () => {
      while ((await emitAck(ann.socket, "servers"))[0] !== 2 || (await emitAck(bob.socket, "servers"))[0] !== 2) {}
    })());
    ann.socket.emit("shout", "from ann");
    assert.deepEqual(await bob.col.nth("shout", 1), [{ from: ctx.port, text: "from ann" }]);
    assert.deepEqual(await ann.col.nth("shout", 1), [{ from: ctx.port, text: "from ann" }]);
    bob.socket.emit("shout", "from bob");
    assert.deepEqual(await ann.col.nth("shout", 2), [{ from: port2, text: "from bob" }]);
    ann.socket.close();
    bob.socket.close();
    return { verified: "cluster" };
  },
};

runScript(`examples ${example}`, 30_000, async () => {
  const run = scenarios[example];
  if (!run) throw new Error(`unknown example ${example}`);
  return run();
});
