// socket.io-client 4 with socket.io-msgpack-parser 3.0.2 against the application of
// tests/npm_msgpack.rs, ours or the Node reference (loadtest/node-reference/sio-msgpack.mjs):
// the Rust side runs it against both and compares the summaries (binary values as hex).
// Usage: node sio_msgpack.mjs <port> 4 <polling|websocket|upgrade> <main|bad>
//   - main: refusal with data, unknown namespace, echo with nested buffers, acks both ways,
//     rooms, broadcast, broadcast with acks, server-built values, two namespaces;
//   - bad: raw Engine.IO sessions send malformed msgpack after joining `/`, then a valid echo;
//     each reports its close reason, or `alive` when the echo came back; a regular socket
//     keeps working throughout.
import assert from "node:assert/strict";
import { Socket as EngineSocket } from "engine.io-client";
import { io } from "socket.io-client";
import parser from "socket.io-msgpack-parser";
import { parseArgs, runScript, within } from "./harness.mjs";
import { Collector, connect, emitAck, settleTransport } from "./sio_lib.mjs";

const ctx = parseArgs();
const [mode, scenario] = ctx.rest;

/** Buffers as `{bin: hex}` so the summary is plain JSON that two servers can be compared on. */
function plain(x) {
  if (Buffer.isBuffer(x)) return { bin: x.toString("hex") };
  if (x instanceof ArrayBuffer) return { bin: Buffer.from(x).toString("hex") };
  if (Array.isArray(x)) return x.map(plain);
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

const EVENTS = ["echo", "answer", "room-msg", "broadcast-msg", "q", "question"];

/**
 * Every Socket.IO message a socket's connection receives, as hex of the bytes on the wire:
 * the servers must send the very same bytes. A session id (`sid`/`pid` of the connect answer:
 * fixstr key, str of 20) is masked, as it is random, and so are the ack ids the server picks.
 */
const wire = {};
function record(socket, name) {
  const got = (wire[name] = []);
  socket.io.engine.on("message", (data) => {
    const hex = typeof data === "string" ? `text:${data}` : Buffer.from(data).toString("hex");
    let masked = hex.replace(/(a3(?:736964|706964)b4)[0-9a-f]{40}/g, "$1<id>");
    // The id of an event the server wants acknowledged is its own counter (Node's is per
    // namespace, ours per socket): an EVENT map of 4 entries, `id` a positive int of any size.
    if (masked.startsWith("84a47479706502")) {
      masked = masked.replace(/a26964(?:[0-7][0-9a-f]|cc[0-9a-f]{2}|cd[0-9a-f]{4}|ce[0-9a-f]{8})/, "a26964<id>");
    }
    got.push(masked);
  });
}

async function open(nsp, name, auth = {}) {
  const socket = connect(ctx, nsp, mode, { name, ...auth }, { parser });
  record(socket, name);
  const col = new Collector(socket, EVENTS, name);
  socket.on("connect", () => col.wake());
  await col.wait("connect", () => socket.connected);
  await settleTransport(socket, mode);
  return { socket, col };
}

async function main() {
  const out = {};

  // Refusals: a middleware's message and data; an unknown namespace.
  const refused = connect(ctx, "/", mode, { token: "bad" }, { parser });
  record(refused, "refused");
  const err = await new Collector(refused, [], "refused").refused();
  out.refused = { message: err.message, data: err.data };
  assert.deepEqual(out.refused, { message: "not authorized", data: { code: 42 } });
  refused.close();
  const nope = connect(ctx, "/nope", mode, {}, { parser });
  record(nope, "nope");
  out.unknownNamespace = (await new Collector(nope, [], "nope").refused()).message;
  assert.equal(out.unknownNamespace, "Invalid namespace");
  nope.close();

  // A client without `auth` sends `data: undefined` in its CONNECT.
  const bare = io(`http://127.0.0.1:${ctx.port}`, {
    transports: mode === "polling" ? ["polling"] : mode === "websocket" ? ["websocket"] : ["polling", "websocket"],
    upgrade: mode === "upgrade", forceNew: true, reconnection: false, parser,
  });
  record(bare, "bare");
  const bareCol = new Collector(bare, ["echo"], "bare");
  bare.emit("echo", "no auth");
  out.bare = await bareCol.nth("echo", 1);
  assert.deepEqual(out.bare, ["no auth"]);
  bare.close();

  const a = await open("/", "a");
  const b = await open("/", "b");
  const c = await open("/chat", "c");

  // Echo: every msgpack type a client writes, buffers nested at several depths.
  const args = [
    "hi", 1, 2.5, -3, -200, 70000, 4294967296, true, null, "é🙂",
    { nested: { buf: Buffer.from([1, 2, 3]), arr: [new Uint8Array([4, 5]).buffer, "x"] } },
    [Buffer.alloc(300, 9)],
  ];
  a.socket.emit("echo", ...args);
  out.echo = plain(await a.col.nth("echo", 1));
  assert.deepEqual(out.echo.slice(0, 10), ["hi", 1, 2.5, -3, -200, 70000, 4294967296, true, null, "é🙂"]);
  assert.deepEqual(out.echo[10], { nested: { buf: { bin: "010203" }, arr: [{ bin: "0405" }, "x"] } });
  assert.equal(out.echo[11][0].bin, "09".repeat(300));

  // Acks, client → server and server → client.
  out.ack = plain(await emitAck(a.socket, "ack-me", "x", Buffer.from([7]), { k: [Buffer.from([8])] }));
  assert.deepEqual(out.ack, ["x", { bin: "07" }, { k: [{ bin: "08" }] }]);
  a.socket.on("question", (q, cb) => cb({ got: q, buf: Buffer.from([6]) }));
  a.socket.emit("ask-client", "q1");
  out.answer = plain(await a.col.nth("answer", 1));
  assert.deepEqual(out.answer, [{ got: "q1", buf: { bin: "06" } }]);

  // Rooms: b joins r1; a sends to r1 (b gets it, a does not).
  out.joined = await emitAck(b.socket, "join", "r1");
  a.socket.emit("to-room", "r1", "hello", Buffer.from([5]));
  out.roomMsg = plain(await b.col.nth("room-msg", 1));
  assert.deepEqual(out.roomMsg, ["hello", { bin: "05" }]);

  // Broadcast to the namespace but the sender; /chat hears nothing of it.
  a.socket.emit("broadcast", "all", Buffer.from([4]));
  out.broadcast = plain(await b.col.nth("broadcast-msg", 1));
  assert.deepEqual(out.broadcast, ["all", { bin: "04" }]);

  // Broadcast with acks: every socket of `/` answers `q` with its name.
  for (const [s, name] of [[a.socket, "a"], [b.socket, "b"]]) s.on("q", (cb) => cb(name, Buffer.from(name)));
  const seen = wire.a.length;
  const answers = await emitAck(a.socket, "bcack");
  // The answers come in the order the clients' acks arrived: compared sorted, below.
  wire.a.splice(seen, wire.a.length - seen, "<q and the answers to bcack>");
  out.bcack = plain(answers[0]).map(JSON.stringify).sort();
  assert.deepEqual(out.bcack, ['"a"', '"b"']);

  // Values the server builds: buffers, a float, integers past 32 bits and below int8.
  out.types = plain(await emitAck(a.socket, "types"));
  assert.deepEqual(out.types, [
    { buf: { bin: "010203" }, n: 1.5, big: 4294967296, neg: -129, list: [{ bin: "6869" }], s: "é" },
  ]);

  // A second namespace on its own connection.
  c.socket.emit("echo", "chat", Buffer.from([3]));
  out.chatEcho = plain(await c.col.nth("echo", 1));
  assert.deepEqual(out.chatEcho, ["chat", { bin: "03" }]);
  out.chatHeardBroadcast = c.col.got["broadcast-msg"].length + c.col.got["room-msg"].length;
  assert.equal(out.chatHeardBroadcast, 0);
  out.aHeardOwn = a.col.got["broadcast-msg"].length + a.col.got["room-msg"].length;
  assert.equal(out.aHeardOwn, 0);

  for (const s of [a, b, c]) s.socket.close();
  out.wire = wire;
  return { verified: `msgpack ${mode}: events, acks both ways, rooms, broadcasts, namespaces`, out };
}

/** A msgpack map of `{type: 2, nsp: "/", data: [...]}` whose data bytes are `dataHex`. */
function eventWith(dataHex) {
  return Buffer.concat([Buffer.from("83a474797065" + "02" + "a36e7370a12f" + "a464617461", "hex"), Buffer.from(dataHex, "hex")]);
}

const BAD = {
  text: "2[\"echo\",1]",
  truncated: parser.Encoder.prototype.encode({ type: 2, data: ["echo", "abcdef"], nsp: "/" })[0].subarray(0, 12),
  typeString: Buffer.from(parser.Encoder.prototype.encode({ type: "2", data: ["echo"], nsp: "/" })[0]),
  dataNotArray: Buffer.from(parser.Encoder.prototype.encode({ type: 2, data: { a: 1 }, nsp: "/" })[0]),
  hugeLength: eventWith("dd ffffffff".replace(/ /g, "")),
  hugeString: eventWith("92a165dbffffffff"),
  deepNesting: eventWith("92a165" + "91".repeat(200) + "c0"),
  notAMap: Buffer.from("93010203", "hex"),
  trailing: Buffer.concat([Buffer.from(parser.Encoder.prototype.encode({ type: 2, data: ["echo"], nsp: "/" })[0]), Buffer.from([0])]),
};

/** A raw Engine.IO session joins `/` with msgpack, then sends `payload`; resolves with its close reason. */
async function badSession(name, payload) {
  const engine = new EngineSocket(`http://127.0.0.1:${ctx.port}`, {
    transports: mode === "polling" ? ["polling"] : mode === "websocket" ? ["websocket"] : ["polling", "websocket"],
    upgrade: mode === "upgrade",
    path: "/socket.io/",
  });
  const messages = [];
  const closed = new Promise((resolve) => engine.on("close", (reason) => resolve(reason)));
  engine.on("message", (m) => messages.push(m));
  await within(5000, `${name}: open`, new Promise((resolve) => engine.on("open", resolve)));
  engine.send(Buffer.from(parser.Encoder.prototype.encode({ type: 0, nsp: "/", data: { name } })[0]));
  await within(5000, `${name}: connect ack`, new Promise((resolve) => {
    const check = () => (messages.length ? resolve() : setTimeout(check, 5));
    check();
  }));
  const ack = new parser.Decoder();
  let decoded;
  ack.on("decoded", (p) => (decoded = p));
  ack.add(messages[0]);
  assert.equal(decoded.type, 0, `${name}: connect ack type`);
  if (mode === "upgrade" && engine.transport.name !== "websocket") {
    await within(5000, `${name}: upgrade`, new Promise((resolve) => engine.once("upgrade", resolve)));
  }
  // The bad packet, then a valid echo: a server that keeps the session answers the echo.
  const seen = messages.length;
  engine.send(payload);
  engine.send(Buffer.from(parser.Encoder.prototype.encode({ type: 2, data: ["echo", "probe"], nsp: "/" })[0]));
  const answered = new Promise((resolve) => {
    engine.on("message", () => messages.length > seen && resolve("alive"));
  });
  const outcome = await within(5000, `${name}: a close or an answer`, Promise.race([closed, answered]));
  if (outcome === "alive") engine.close();
  return outcome;
}

async function bad() {
  const good = await open("/", "good");
  const closes = {};
  for (const [name, payload] of Object.entries(BAD)) {
    closes[name] = await badSession(name, payload);
    // The regular socket is unharmed.
    good.socket.emit("echo", name);
    const [echoed] = await good.col.nth("echo", Object.keys(closes).length);
    assert.equal(echoed, name);
  }
  assert.ok(good.socket.connected, "the regular socket is still connected");
  good.socket.close();
  return { verified: `msgpack ${mode}: ${Object.keys(BAD).length} malformed packets, other sessions unharmed`, out: { closes } };
}

runScript("sio_msgpack", 20_000, scenario === "bad" ? bad : main);
