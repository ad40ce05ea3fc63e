// permessage-deflate through the `ws` client (v8, as browsers' and Node's engine.io peers use it):
// a raw Engine.IO v4 WebSocket session echoes a 10 KiB text message, a small one and a 500-byte one.
// usage: node deflate_echo.mjs <port> <on|off|no-context|narrow>
//
// on:         the client offers `permessage-deflate; client_max_window_bits`; the server must
//             accept it, and (as `ws` does with its context kept) compress every data message.
// no-context: the client also asks for server_no_context_takeover; the server then compresses
//             only messages of at least its 1024-byte threshold.
// narrow:     the client asks for server_max_window_bits=9; its zlib inflater then refuses any
//             back-reference past 512 bytes. tpcio (whose compressor has a fixed 32 KiB window)
//             compresses only the messages that fit in 512 bytes, each on its own; `ws` would
//             compress all of them with a 512-byte window.
// bomb:       a 3 MB message of one repeated letter, a few KiB compressed, must be refused as too
//             big once inflated past maxHttpBufferSize (1 MB): close code 1009, as `ws` does.
// off:        the server has the extension disabled: its 101 carries no extension, nothing is
//             compressed, the echo still works.
//
// Ends with one JSON line `{"ok":true,"verified":"deflate <mode>",...}` (exit 0), or
// `{"ok":false,"error":...}` (exit 1). The whole script is bounded to 10 s.

import assert from "node:assert/strict";
import { writeSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const WebSocket = require("ws");
// Not in the package's exports: loaded by path, the same module instance `ws` uses.
const PerMessageDeflate = require(join(dirname(require.resolve("ws")), "lib", "permessage-deflate.js"));

const [portArg, mode] = process.argv.slice(2);
const port = Number(portArg);

// Synchronous, so nothing runs after a failure.
function finish(line, code) {
  writeSync(1, JSON.stringify(line) + "\n");
  process.exit(code);
}
const fail = (err) => finish({ ok: false, error: err && err.stack ? err.stack : String(err) }, 1);
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);
setTimeout(() => fail(new Error("deflate_echo: deadline of 10 s exceeded")), 10_000).unref();

const OFFERS = { on: true, bomb: true, off: true, "no-context": { serverNoContextTakeover: true }, narrow: { serverMaxWindowBits: 9 } };
const ACCEPTED = {
  on: "permessage-deflate",
  bomb: "permessage-deflate",
  off: undefined,
  "no-context": "permessage-deflate; server_no_context_takeover",
  narrow: "permessage-deflate; server_max_window_bits=9",
};
if (!Number.isInteger(port) || !(mode in OFFERS)) {
  fail(new Error(`usage: node deflate_echo.mjs <port> <${Object.keys(OFFERS).join("|")}>; got ${process.argv.slice(2)}`));
}

// Every compressed message the client receives goes through `decompress` once (one frame each).
let inflated = 0;
const decompress = PerMessageDeflate.prototype.decompress;
PerMessageDeflate.prototype.decompress = function (data, fin, cb) {
  if (fin) inflated += 1;
  return decompress.call(this, data, fin, cb);
};

const ws = new WebSocket(`ws://127.0.0.1:${port}/engine.io/?EIO=4&transport=websocket`, {
  perMessageDeflate: OFFERS[mode],
});

let responseHeader;
ws.on("upgrade", (res) => {
  responseHeader = res.headers["sec-websocket-extensions"];
});

const queue = [];
let waiter = null;
ws.on("message", (data, isBinary) => {
  assert.equal(isBinary, false, "Engine.IO v4 text packets arrive as text frames");
  queue.push(data.toString());
  if (waiter) waiter();
});
ws.on("error", fail);

function next(what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 5000);
    const take = () => {
      if (queue.length === 0) return;
      clearTimeout(timer);
      waiter = null;
      resolve(queue.shift());
    };
    waiter = take;
    take();
  });
}

await new Promise((resolve, reject) => {
  ws.once("open", resolve);
  ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode} instead of 101`)));
});

assert.equal(responseHeader, ACCEPTED[mode], "Sec-WebSocket-Extensions of the 101");
assert.equal(ws.extensions, mode === "off" ? "" : "permessage-deflate", "ws.extensions");

const open = await next("the open packet");
assert.match(open, /^0\{"sid":"[^"]+"/, "an Engine.IO open packet");
const openSize = Buffer.byteLength(open);

// 10 KiB of compressible but not trivial text, non-ASCII included.
const big = "4" + Array.from({ length: 10240 }, (_, i) => "abcdéfghij"[(i * 7) % 10]).join("").slice(0, 10239);
if (mode === "bomb") {
  const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
  ws.send("4" + "a".repeat(3_000_000));
  const code = await Promise.race([closed, next("a close instead of an echo").then((m) => `echo ${m.length}`)]);
  assert.equal(code, 1009, "the close code of an inflated message over maxPayload");
  finish({ ok: true, verified: "deflate bomb", code }, 0);
}

const small = "4small é";
const medium = "4" + "0123456789abcdefghijklmnopqrstuvwxyz".repeat(14).slice(0, 499);
for (const [name, message] of [["10 KiB", big], ["small", small], ["500-byte", medium]]) {
  ws.send(message);
  assert.equal(await next(`the ${name} echo`), message, `the ${name} message comes back intact`);
}

// Of the open packet and the three echoes, those the server sent compressed.
assert.ok(openSize < 512, `a short open packet (${openSize} bytes)`);
const compressed = { on: 4, "no-context": 1, narrow: 3, off: 0 }[mode];
assert.equal(inflated, compressed, "messages the server sent compressed");

ws.close();
await new Promise((resolve) => ws.once("close", resolve));
finish(
  { ok: true, verified: `deflate ${mode}`, extensions: responseHeader ?? null, inflated, bigBytes: Buffer.byteLength(big) },
  0,
);
