// Writes the fixtures of src/protocol/sio/msgpack/tests.rs: the bytes socket.io-msgpack-parser
// 3.0.2 (notepack.io 2.2) produces for packets built as socket.io 4.8 builds them (key order
// included: see the table in src/protocol/sio/msgpack.rs), and for packets a socket.io-client 4
// sends. Usage: node msgpack_fixtures.mjs > ../../src/protocol/sio/msgpack/fixtures.json
import parser from "socket.io-msgpack-parser";

const encoder = new parser.Encoder();
const hex = (packet) => Buffer.from(encoder.encode(packet)[0]).toString("hex");
const long = "x".repeat(300);

// [name, packet object]: server packets, in socket.io 4.8's key order.
const server = [
  ["connect_ok", { type: 0, data: { sid: "AAAAAAAAAAAAAAAAAAAA", pid: undefined }, nsp: "/" }],
  ["connect_ok_pid", { type: 0, data: { sid: "AAAAAAAAAAAAAAAAAAAA", pid: "BBBBBBBBBBBBBBBBBBBB" }, nsp: "/chat" }],
  ["connect_v4", { type: 0, nsp: "/admin" }],
  ["invalid_namespace", { type: 4, nsp: "/nope", data: { message: "Invalid namespace" } }],
  ["middleware_no_data", { type: 4, data: { message: "not authorized", data: undefined }, nsp: "/" }],
  ["middleware_data", { type: 4, data: { message: "not authorized", data: { code: 42, why: ["a", 1.5] } }, nsp: "/" }],
  ["disconnect", { type: 1, nsp: "/chat" }],
  ["event", { type: 2, data: ["news", { hello: "world", n: 1, f: 2.5, neg: -40, big: 4294967296, t: true, z: null }], nsp: "/" }],
  ["event_with_ack", { type: 2, data: ["q", 7], id: 12, nsp: "/chat" }],
  ["broadcast_with_ack", { type: 2, data: ["q", 7], nsp: "/chat", id: 12 }],
  ["event_binary", { type: 2, data: ["up", Buffer.from([1, 2, 3]), { nested: [Buffer.alloc(300, 7)] }], nsp: "/" }],
  ["event_long_string", { type: 2, data: ["s", long, "é\u{1F600}"], nsp: "/" }],
  ["ack", { id: 3, type: 3, data: ["ok", Buffer.from([9])], nsp: "/" }],
  ["ack_empty", { id: 300, type: 3, data: [], nsp: "/x" }],
];

// Packets as the client's encoder writes them, for decoding.
const client = [
  ["c_connect", { type: 0, nsp: "/" }],
  // socket.io-client 4.8 without `auth`: `{type, data: this.auth}`, then `nsp`.
  ["c_connect_undefined", { type: 0, data: undefined, nsp: "/" }],
  ["c_disconnect_undefined", { type: 1, data: undefined, nsp: "/", id: undefined }],
  ["c_connect_auth", { type: 0, data: { token: "abc", n: 3 }, nsp: "/chat" }],
  ["c_event_buffer", { type: 2, data: ["up", { deep: [Buffer.from([1, 2])] }, Buffer.from([3])], nsp: "/", id: 5 }],
  ["c_event_arraybuffer", { type: 2, data: ["ab", new Uint8Array([4, 5, 6]).buffer], nsp: "/" }],
  ["c_event_undefined_date", { type: 2, data: ["misc", undefined, new Date(0), 2.0, -0.5], nsp: "/" }],
  ["c_ack", { type: 3, data: ["pong", 1], nsp: "/", id: 0 }],
  ["c_disconnect", { type: 1, nsp: "/chat" }],
];

const out = {};
for (const [name, packet] of [...server, ...client]) {
  out[name] = hex(packet);
}
console.log(JSON.stringify(out, null, 2));
