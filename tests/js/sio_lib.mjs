// Socket.IO client plumbing for the sio_*.mjs scenarios that tests/npm_sio.rs runs against the
// test application of tests/common/sio.rs. `eio` picks the client: 4 = socket.io-client 4.8
// (Socket.IO protocol v5), 3 = socket.io-client 2.5 (protocol v4, installed as
// `socket.io-client-v2`). The two differ in how parameters travel (v5 `auth` vs v4 `query`) and
// in how a refused connect shows (v4 client: `connect_error`; v2 client: `error` event).
// Every wait is bounded and rejects early when the socket disconnects; nothing sleeps.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { Manager as ManagerV4, io as ioV4 } from "socket.io-client";
import { within } from "./harness.mjs";

const require = createRequire(import.meta.url);
const ioV2 = require("socket.io-client-v2");

export const MODES = ["polling", "websocket", "upgrade"];

const TRANSPORTS = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] };

/** Manager options: transports of `mode`, no reconnection unless asked, fast retries. */
function managerOpts(ctx, mode, params, extra) {
  const transports = TRANSPORTS[mode];
  if (!transports) throw new Error(`unknown mode ${mode}`);
  const opts = {
    transports,
    upgrade: mode === "upgrade",
    forceNew: true,
    reconnection: false,
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
    timeout: 5000,
    ...extra,
  };
  // v2 sends `query` in the handshake (read by `/`) and in each namespace CONNECT.
  if (ctx.eio === 4) opts.auth = params;
  else opts.query = params;
  return opts;
}

/** One socket on its own connection: `io(url + nsp, ...)`. */
export function connect(ctx, nsp, mode, params = {}, extra = {}) {
  const url = `http://127.0.0.1:${ctx.port}${nsp}`;
  const opts = managerOpts(ctx, mode, params, extra);
  return ctx.eio === 4 ? ioV4(url, opts) : ioV2(url, opts);
}

/** A manager whose sockets share one Engine.IO connection; `params` go to `/`. */
export function manager(ctx, mode, params = {}, extra = {}) {
  const url = `http://127.0.0.1:${ctx.port}`;
  const opts = { ...managerOpts(ctx, mode, params, extra), autoConnect: true };
  return ctx.eio === 4 ? new ManagerV4(url, opts) : new ioV2.Manager(url, opts);
}

/** A namespace socket on `mgr` with its own parameters. */
export function nspSocket(ctx, mgr, nsp, params = {}) {
  return mgr.socket(nsp, ctx.eio === 4 ? { auth: params } : { query: params });
}

/** Buffers, ArrayBuffers and typed arrays all become Buffers, recursively. */
export function norm(x) {
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  if (Array.isArray(x)) return x.map(norm);
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, norm(v)]));
  return x;
}

/** Binary values at several depths, with text around them. */
export function nestedBinary(tag) {
  const big = Buffer.alloc(10_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + tag.length) & 0xff;
  return [
    { tag, a: [1, { b: Buffer.from([0, 1, 2, 255]) }, "x"], c: big, deep: { d: { e: [[Buffer.from(tag)]] } } },
    Buffer.from("top-level ✓", "utf8"),
    "tail é🙂",
  ];
}

/**
 * Records every listed event of a socket (their argument lists) and its disconnect reasons;
 * `wait(pred)` resolves once `pred()` holds, re-checked on each arrival.
 */
export class Collector {
  constructor(socket, events, label = "") {
    this.socket = socket;
    this.label = label;
    this.got = Object.fromEntries(events.map((e) => [e, []]));
    this.reasons = [];
    this.errors = [];
    this.waiters = new Set();
    for (const e of events) {
      socket.on(e, (...args) => {
        this.got[e].push(norm(args.filter((a) => typeof a !== "function")));
        this.wake();
      });
    }
    socket.on("disconnect", (reason) => {
      this.reasons.push(reason);
      this.wake();
    });
    const refused = (err) => {
      this.errors.push(err);
      this.wake();
    };
    socket.on("connect_error", refused);
    socket.on("error", refused);
  }

  wake() {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves with `pred()`'s truthy value; with `failOnDisconnect`, a disconnect rejects. */
  wait(what, pred, ms = 5000, failOnDisconnect = true) {
    const reasons = this.reasons.length;
    let check;
    return within(
      ms,
      `${this.label}: ${what}`,
      new Promise((resolve, reject) => {
        check = () => {
          const v = pred();
          if (v) return resolve(v);
          if (failOnDisconnect && this.reasons.length > reasons) {
            reject(new Error(`${this.label}: disconnected (${this.reasons.at(-1)}) waiting for ${what}`));
          }
        };
        this.waiters.add(check);
        check();
      }),
    ).finally(() => this.waiters.delete(check));
  }

  /** The `n`-th (1-based) arguments of `event`, once it arrived. */
  nth(event, n, ms) {
    return this.wait(`${event} #${n}`, () => this.got[event].length >= n && this.got[event][n - 1], ms);
  }

  /** The next disconnect reason after the `n` already seen. */
  disconnected(n = 0, ms = 5000) {
    return this.wait(`disconnect #${n + 1}`, () => this.reasons.length > n && this.reasons[n], ms, false);
  }

  /** The first connect refusal: an Error (v4 `connect_error`) or the `error` event's data (v2). */
  refused(ms = 5000) {
    return this.wait("a connect refusal", () => this.errors.length > 0 && { err: this.errors[0] }, ms).then(
      (x) => x.err,
    );
  }
}

/** Emits with an ack callback; resolves with the ack's arguments (normalized). */
export function emitAck(socket, event, ...args) {
  return within(
    5000,
    `the ack of ${event}`,
    new Promise((resolve) => socket.emit(event, ...args, (...res) => resolve(norm(res)))),
  );
}

/** Waits for `welcome` (the server's on_connect) and checks it names `nsp` and `name`. */
export async function welcomed(col, nsp, name, ms = 5000) {
  const [w] = await col.nth("welcome", 1, ms);
  assert.equal(w.nsp, nsp, `${col.label}: welcome namespace`);
  assert.equal(w.name, name, `${col.label}: welcome name`);
  assert.ok(w.shard === 0 || w.shard === 1, `${col.label}: shard ${w.shard}`);
  return w;
}

/** The transport the socket's connection uses now. */
export function transportOf(socket) {
  return socket.io.engine.transport.name;
}

/** In upgrade mode, waits for the WebSocket upgrade; in the others, checks the transport. */
export async function settleTransport(socket, mode, ms = 5000) {
  const engine = socket.io.engine;
  if (mode === "upgrade" && engine.transport.name !== "websocket") {
    await within(
      ms,
      "the upgrade to websocket",
      new Promise((resolve, reject) => {
        engine.once("upgrade", resolve);
        engine.once("upgradeError", (e) => reject(new Error(`upgradeError: ${e && e.message}`)));
      }),
    );
  }
  const want = mode === "polling" ? "polling" : "websocket";
  assert.equal(engine.transport.name, want, `transport in ${mode} mode`);
}
