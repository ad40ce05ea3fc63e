// Shared plumbing for the client scripts that tests/npm_clients.rs runs against the tpcio
// conformance server (whose /engine.io/ endpoint echoes every message).
//
// Contract with the Rust side: argv is `<port> <eio: 3|4> [args...]`; the script prints any
// progress lines it needs (e.g. `ready`) and ends with ONE JSON summary line:
// `{"ok":true,"verified":"...",...}` with exit code 0, or `{"ok":false,"error":"..."}` with exit 1.
// Every wait is bounded: a whole-script deadline plus per-wait timeouts.

import { createRequire } from "node:module";
import { NodeWebSocket, NodeXHR, Socket as SocketV6 } from "engine.io-client";

const require = createRequire(import.meta.url);
const SocketV3 = require("engine.io-client-v3");
const V3Polling = require("engine.io-client-v3/lib/transports/polling");
const V3Transport = require("engine.io-client-v3/lib/transport");

/**
 * What arrived on the wire, per transport: raw text (payloads or frames) vs raw binary. The
 * clients decode both forms to the same messages, so this is how a script tells whether the
 * server honoured b64=1 (text only) or used binary where the client allows it.
 */
export const wire = { polling: { text: 0, binary: 0 }, websocket: { text: 0, binary: 0 } };

function countRawData(proto) {
  let owner = proto;
  while (owner && !Object.prototype.hasOwnProperty.call(owner, "onData")) owner = Object.getPrototypeOf(owner);
  if (!owner || owner.onData.__counted) return;
  const inner = owner.onData;
  const counted = function (data) {
    const slot = wire[this.name];
    if (slot) slot[typeof data === "string" ? "text" : "binary"] += 1;
    return inner.call(this, data);
  };
  counted.__counted = true;
  owner.onData = counted;
}

countRawData(NodeXHR.prototype);
countRawData(NodeWebSocket.prototype);
countRawData(V3Polling.prototype);
countRawData(V3Transport.prototype);

/** Parses `<port> <eio> [rest...]`. */
export function parseArgs() {
  const [portArg, eioArg, ...rest] = process.argv.slice(2);
  const port = Number(portArg);
  const eio = Number(eioArg);
  if (!Number.isInteger(port) || port <= 0 || (eio !== 3 && eio !== 4)) {
    fail(new Error(`usage: node ${process.argv[1]} <port> <3|4> [args...]; got ${process.argv.slice(2)}`));
  }
  return { port, eio, rest };
}

/** Prints the summary line and exits 0. */
export function succeed(summary) {
  process.stdout.write(JSON.stringify({ ok: true, ...summary }) + "\n", () => process.exit(0));
}

/** Prints the failure line and exits 1. */
export function fail(err) {
  const error = err && err.stack ? err.stack : String(err);
  process.stdout.write(JSON.stringify({ ok: false, error }) + "\n", () => process.exit(1));
}

/** Runs `main`, failing on a throw, a rejection or when `ms` elapse first. */
export function runScript(name, ms, main) {
  const timer = setTimeout(() => fail(new Error(`${name}: script deadline of ${ms} ms exceeded`)), ms);
  process.on("unhandledRejection", fail);
  process.on("uncaughtException", fail);
  main().then(
    (summary) => {
      clearTimeout(timer);
      succeed(summary);
    },
    (err) => {
      clearTimeout(timer);
      fail(err);
    },
  );
}

/** Rejects with `what` if `promise` does not settle within `ms`. */
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the arguments of the next `event` on `emitter` (an array). */
export function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

/**
 * Opens an engine.io-client socket: v6 for EIO=4, v3 for EIO=3.
 * `mode` is "polling", "websocket" (WebSocket only) or "upgrade" (polling, then upgrade).
 */
export function openSocket({ port, eio }, mode, extra = {}) {
  const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[
    mode
  ];
  if (!transports) throw new Error(`unknown mode ${mode}`);
  const opts = { transports, upgrade: mode === "upgrade", ...extra };
  const url = `http://127.0.0.1:${port}`;
  return eio === 4 ? new SocketV6(url, opts) : new SocketV3(url, opts);
}

/**
 * Resolves with the arguments of the next `event` on `socket` within `ms`; rejects if the socket
 * closes first (or, waiting for `upgrade`, if the upgrade fails).
 */
export function untilEvent(socket, event, ms) {
  return within(
    ms,
    `the ${event} event`,
    new Promise((resolve, reject) => {
      socket.once(event, (...args) => resolve(args));
      socket.once("close", (r, d) => reject(new Error(`closed (${r} ${describe(d)}) before ${event}`)));
      if (event === "upgrade") socket.once("upgradeError", (e) => reject(new Error(`upgradeError: ${describe(e)}`)));
    }),
  );
}

/** Resolves once `socket` is open; rejects on an error or close first. */
export function opened(socket, ms = 3000) {
  return within(
    ms,
    "open",
    new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", (e) => reject(new Error(`error before open: ${describe(e)}`)));
      socket.once("close", (r, d) => reject(new Error(`close before open: ${r} ${describe(d)}`)));
    }),
  );
}

/** Collects every message of a socket; `take(n)` waits (bounded) for the next n. */
export class Inbox {
  constructor(socket) {
    this.messages = [];
    this.read = 0;
    this.waiter = null;
    this.closed = null;
    socket.on("message", (data) => {
      this.messages.push(data);
      this.wake();
    });
    socket.on("close", (reason, desc) => {
      this.closed = `${reason} ${describe(desc)}`;
      this.wake();
    });
  }

  wake() {
    if (this.waiter) this.waiter();
  }

  async take(n, ms = 5000) {
    const ready = () => this.messages.length - this.read >= n;
    await within(
      ms,
      `${n} messages (have ${this.messages.length - this.read})`,
      new Promise((resolve, reject) => {
        const check = () => {
          if (ready()) {
            this.waiter = null;
            resolve();
          } else if (this.closed !== null) {
            this.waiter = null;
            reject(new Error(`socket closed (${this.closed}) with ${this.messages.length - this.read}/${n} messages`));
          }
        };
        this.waiter = check;
        check();
      }),
    ).finally(() => {
      this.waiter = null;
    });
    const out = this.messages.slice(this.read, this.read + n);
    this.read += n;
    return out;
  }
}

/** A received binary payload as a Buffer, or null when the message is text. */
export function asBuffer(data) {
  if (typeof data === "string") return null;
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new Error(`unexpected message type ${Object.prototype.toString.call(data)}`);
}

/** Asserts `got[i]` is exactly `sent[i]` for every i: same kind (text/binary), same content. */
export function assertEchoed(sent, got, what) {
  if (got.length !== sent.length) throw new Error(`${what}: sent ${sent.length}, got ${got.length}`);
  for (let i = 0; i < sent.length; i++) {
    const s = sent[i];
    const g = got[i];
    if (typeof s === "string") {
      // Both parsers decode a bare "4" packet as a message without data: "" comes back undefined.
      if (g !== s && !(s === "" && g === undefined)) {
        throw new Error(`${what}: message #${i}: sent text ${preview(s)}, got ${preview(g)}`);
      }
    } else {
      const buf = asBuffer(g);
      const want = asBuffer(s);
      if (buf === null || !buf.equals(want)) {
        throw new Error(`${what}: message #${i}: sent ${want.length} binary bytes, got ${preview(g)}`);
      }
    }
  }
}

function preview(x) {
  if (x === undefined || x === null) return String(x);
  if (typeof x === "string") return JSON.stringify(x.length > 60 ? x.slice(0, 60) + "…" : x) + ` (len ${x.length})`;
  const b = asBuffer(x);
  return `binary(${b.length}) ${b.subarray(0, 16).toString("hex")}`;
}

export function describe(x) {
  if (x === undefined || x === null) return "";
  if (x instanceof Error) return x.message;
  if (typeof x === "object") {
    try {
      // A WebSocket close's `context` is the CloseEvent: only its code and reason matter.
      const ctx = x.context && typeof x.context.code === "number" ? { code: x.context.code, reason: String(x.context.reason) } : undefined;
      return JSON.stringify({ ...x, context: ctx }, (k, v) => (v instanceof Error ? v.message : v));
    } catch {
      return String(x);
    }
  }
  return String(x);
}

/** Text with non-ASCII, emoji (astral, so two UTF-16 units each) and a large one, plus binaries. */
export function sampleMessages() {
  const big = "ünïcødé ✓ 😀 ".repeat(5000); // ~70 k UTF-16 units, more UTF-8 bytes
  const bytes = Buffer.alloc(70_000); // > 65535: a 64-bit WebSocket length
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
  return [
    "hello",
    "héllo wörld — ünïcødé ✓ 日本語 🎉👍🏽 𝄞",
    "",
    "4 looks like a packet type; 1:a also looks like a v3 length",
    new Uint8Array([0, 1, 2, 3, 255, 254]),
    Buffer.from("binary with emoji 🚀 inside", "utf8"),
    new Uint8Array([7]),
    big,
    bytes,
  ];
}

/** `n` alternating text and binary messages numbered 0..n. */
export function burstMessages(n, tag) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(i % 2 === 0 ? `${tag}-${i}-é🙂` : new Uint8Array([i & 0xff, (i >> 8) & 0xff, 0xf0, 0x9f]));
  }
  return out;
}

/** Sends every message; returns them. */
export function sendAll(socket, messages) {
  for (const m of messages) socket.send(m);
  return messages;
}

/** Closes `socket` from the client and waits (bounded) for its close event. */
export async function closeAndWait(socket, ms = 3000) {
  if (socket.readyState === "closed") return ["already closed"];
  const closed = once(socket, "close");
  socket.close();
  return within(ms, "close after socket.close()", closed);
}
