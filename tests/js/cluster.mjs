// A `@socket.io/redis-adapter` cluster seen from its clients:
// `node cluster.mjs <full|restart> REDIS_URL KEY KIND:PORT...`, run by tests/cluster.rs against
// nodes that all run the behaviour of `loadtest/node-reference/sio-bench.mjs` (the Node reference
// node, `tpcio bench --redis`), KIND being `node` or `tpcio` (for the messages only).
//
// Clients sit on EVERY node, half WebSocket-only, half polling-only; every request is started
// on each node in turn, so each node kind sends and receives. A delivery step waits until every
// expected recipient has the step's tag, then an `echo` round trip on every client flushes what
// its node still had for it; each client must have the tag exactly once (or never). Before the
// end, a fence broadcast from every node and a second check of every step catch late duplicates.
//
// full: broadcast (text and binary), join/to, count, count-room, sse (N-1 other nodes), bcack
//   (every client acks `q`), move then to, @socket.io/redis-emitter (emit to all / to a room /
//   binary, socketsJoin, serverSideEmit, disconnectSockets), kick.
// restart: a cross-node broadcast; then `need kill-redis` on stdout and the line `redis-killed`
//   on stdin: each node still delivers its own broadcasts to its own clients and accepts new
//   clients; then `need restart-redis` / `redis-back` (sent once every node subscribes again):
//   cross-node broadcasts reach every client, old and new, exactly once.
// With CLUSTER_ADAPTER=sharded in the environment the nodes run the sharded adapter
// (`createShardedAdapter`): the @socket.io/redis-emitter steps are skipped, since the emitter
// speaks the classic protocol only; everything else runs unchanged. CLUSTER_ADAPTER=streams
// (`@socket.io/redis-streams-adapter` 0.3.1) does the same.
// Ends with one JSON line, `{"ok":true,"verified":"cluster <scenario>",...}` or
// `{"ok":false,"error":...}` (exit 1). Progress goes to stderr.

import { spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { runScript, within } from "./harness.mjs";

const [scenario, redisUrl, key, ...nodeArgs] = process.argv.slice(2);
const nodes = nodeArgs.map((arg, index) => {
  const [kind, port] = arg.split(":");
  return { index, kind, port: Number(port), url: `http://127.0.0.1:${port}`, name: `${kind}#${index}:${port}` };
});
const N = nodes.length;
if (!["full", "restart"].includes(scenario) || !redisUrl || !key || N < 2 || nodes.some((n) => !n.port)) {
  console.error("usage: node cluster.mjs <full|restart> REDIS_URL KEY KIND:PORT KIND:PORT...");
  process.exit(2);
}

/** The longest one step waits (the machine is shared and loaded). */
const T = 20_000;
const EMITTER = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../loadtest/node-reference/emitter.mjs");

/** The nodes run `createShardedAdapter`: no emitter steps. */
const SHARDED = ["sharded", "streams"].includes(process.env.CLUSTER_ADAPTER);

const log = (line) => process.stderr.write(`[cluster ${scenario}] ${line}\n`);

// --- waiting on events ---------------------------------------------------------------------------

/** Checks re-run on every client event. */
const waiters = new Set();
const poke = () => {
  for (const check of [...waiters]) check();
};

/** Resolves once `pred()` holds, re-checked on every event; rejects after `ms` with `state()`. */
function until(what, pred, state = () => "", ms = T) {
  let check;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`timed out after ${ms} ms waiting for ${what}; ${state()}`));
    }, ms);
    check = () => {
      if (!pred()) return;
      clearTimeout(timer);
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
    check();
  });
}

/** Re-runs the async `probe` until it returns `want` (no event tells when a fire-and-forget
 * request, e.g. `move`, has reached every node); rejects after `ms` with the last value. */
async function untilValue(what, probe, want, ms = T) {
  const deadline = Date.now() + ms;
  let got;
  for (;;) {
    got = await probe();
    if (got === want) return;
    if (Date.now() > deadline) throw new Error(`${what}: got ${got}, want ${want} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// --- clients -------------------------------------------------------------------------------------

const clients = [];

class Client {
  constructor(node, transport, label) {
    this.node = node;
    this.transport = transport;
    this.name = `${label}@${node.name}/${transport}`;
    this.events = [];
    this.disconnectReason = null;
    this.socket = io(node.url, {
      transports: [transport],
      upgrade: false,
      forceNew: true,
      reconnection: false,
      timeout: T,
    });
    this.socket.onAny((event, ...args) => {
      this.events.push({ event, args });
      poke();
    });
    // `bcack`: every client answers the broadcast `q`.
    this.socket.on("q", (ack) => ack?.("a"));
    this.socket.on("connect", poke);
    this.socket.on("connect_error", (err) => {
      this.connectError = err;
      poke();
    });
    this.socket.on("disconnect", (reason) => {
      this.disconnectReason = reason;
      poke();
    });
    clients.push(this);
  }

  get live() {
    return this.socket.connected;
  }

  async connected() {
    await until(
      `${this.name} to connect`,
      () => {
        if (this.connectError) throw new Error(`${this.name}: connect_error ${this.connectError.message}`);
        return this.socket.connected;
      },
      () => "",
    );
    return this;
  }

  /** The events `event` whose first argument is `tag`. */
  got(event, tag) {
    return this.events.filter((e) => e.event === event && e.args[0] === tag);
  }

  /** Emits with an ack and resolves with the ack's first argument. */
  call(event, ...args) {
    if (!this.live) throw new Error(`${this.name} is not connected (${this.disconnectReason})`);
    return within(T, `${this.name}: ack of ${event}`, this.socket.timeout(T).emitWithAck(event, ...args));
  }

  emit(event, ...args) {
    if (!this.live) throw new Error(`${this.name} is not connected (${this.disconnectReason})`);
    this.socket.emit(event, ...args);
  }
}

/** `perNode` clients on every node, transports alternating WebSocket / polling (with one client
 * per node, from node to node). */
async function connectClients(perNode, label) {
  const fresh = [];
  for (const node of nodes) {
    for (let i = 0; i < perNode; i++) {
      const transport = (node.index * perNode + i) % 2 === 0 ? "websocket" : "polling";
      fresh.push(new Client(node, transport, `${label}${i}`));
    }
  }
  await Promise.all(fresh.map((c) => c.connected()));
  return fresh;
}

const on = (node, list) => list.filter((c) => c.node === node);
const live = () => clients.filter((c) => c.live);

// --- exactly-once deliveries ----------------------------------------------------------------------

/** Every checked delivery: `event` with first argument `tag` to exactly `recipients`. */
const steps = [];
let tagCounter = 0;
const newTag = (what) => `${what}-${++tagCounter}`;

/** One round trip on every live client: what its node had queued for it has arrived. */
async function settle() {
  await Promise.all(live().map((c) => c.call("echo", "settle")));
}

/** Asserts step `s`: each recipient has its tag once, every other client never (clients for
 * which `s.maybe(client)` holds: at most once). */
function verify(s) {
  for (const c of clients) {
    const n = c.got(s.event, s.tag).length;
    const want = s.recipients.has(c) ? [1] : s.maybe?.(c) ? [0, 1] : [0];
    if (!want.includes(n)) {
      throw new Error(`${s.what}: ${c.name} got "${s.event}" ${s.tag} ${n} times, expected ${want.join(" or ")}`);
    }
  }
}

/** Runs `send()`, waits until every recipient has `event`/`tag`, settles, and verifies. */
async function delivery(what, event, tag, recipients, send, { maybe, check } = {}) {
  const s = { what, event, tag, recipients: new Set(recipients), maybe };
  steps.push(s);
  await send();
  await until(
    what,
    () => recipients.every((c) => c.got(event, tag).length >= 1),
    () => `missing at ${recipients.filter((c) => c.got(event, tag).length === 0).map((c) => c.name).join(", ")}`,
  );
  await settle();
  verify(s);
  if (check) for (const c of recipients) check(c, c.got(event, tag)[0].args);
}

/** A fence broadcast from every node to every live client, then every step checked again. */
async function fenceAndVerifyAll() {
  for (const node of nodes) {
    const sender = on(node, live())[0];
    const tag = newTag(`fence-from-${node.name}`);
    await delivery(`fence from ${node.name}`, "broadcast", tag, live(), () => sender.emit("broadcast", tag));
  }
  for (const s of steps) verify(s);
}

const isBinary = (x) => Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
const bytes = (x) => [...(Buffer.isBuffer(x) ? x : x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength))];

function expectBinary(what, want) {
  return (c, args) => {
    const got = args[args.length - 1];
    if (!isBinary(got)) throw new Error(`${what}: ${c.name} got ${JSON.stringify(got)}, expected binary`);
    if (bytes(got).join() !== want.join()) throw new Error(`${what}: ${c.name} got bytes [${bytes(got)}], want [${want}]`);
  };
}

// --- the emitter ---------------------------------------------------------------------------------

/** `node emitter.mjs REDIS_URL KEY`, one command a line, each answered `ok` once published. */
function startEmitter() {
  const child = spawn(process.execPath, [EMITTER, redisUrl, key], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = readline.createInterface({ input: child.stdout });
  const replies = [];
  let waiting = null;
  lines.on("line", (line) => {
    replies.push(line);
    waiting?.();
  });
  let exited = null;
  child.on("exit", (code, signal) => {
    exited = `exited (${code ?? signal})`;
    waiting?.();
  });
  return {
    async run(command) {
      child.stdin.write(JSON.stringify(command) + "\n");
      await within(
        T,
        `the emitter to run ${JSON.stringify(command)}`,
        new Promise((resolve, reject) => {
          waiting = () => {
            if (replies.length) resolve();
            else if (exited) reject(new Error(`the emitter ${exited}`));
          };
          waiting();
        }),
      );
      waiting = null;
      const reply = replies.shift();
      if (reply !== "ok") throw new Error(`emitter: ${JSON.stringify(command)} answered ${reply}`);
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
}

// --- requests answered by the cluster --------------------------------------------------------------

async function expectAck(what, client, want, event, ...args) {
  const got = await client.call(event, ...args);
  if (got !== want) throw new Error(`${what} from ${client.name}: acked ${JSON.stringify(got)}, expected ${want}`);
}

/** Waits for the `disconnect` of exactly `victims` (reason "io server disconnect"); every other
 * client that was live stays connected. */
async function disconnection(what, victims, act) {
  const bystanders = live().filter((c) => !victims.includes(c));
  await act();
  await until(
    what,
    () => victims.every((c) => c.disconnectReason !== null),
    () => `still connected: ${victims.filter((c) => c.live).map((c) => c.name).join(", ")}`,
  );
  for (const c of victims) {
    if (c.disconnectReason !== "io server disconnect") {
      throw new Error(`${what}: ${c.name} disconnected with "${c.disconnectReason}"`);
    }
  }
  await Promise.all(bystanders.map((c) => c.call("echo", "still here")));
  const gone = bystanders.filter((c) => !c.live);
  if (gone.length) throw new Error(`${what}: bystanders disconnected: ${gone.map((c) => c.name).join(", ")}`);
}

// --- scenarios -----------------------------------------------------------------------------------

async function full() {
  const core = await connectClients(4, "c");
  const total = core.length;
  log(`${total} clients on ${N} nodes`);

  // Broadcasts from each node: text, then binary.
  for (const node of nodes) {
    const [ws, polling] = on(node, core);
    const tag = newTag(`broadcast-from-${node.name}`);
    await delivery(`broadcast from ${node.name}`, "broadcast", tag, core, () => ws.emit("broadcast", tag, { n: node.index }), {
      check: (c, args) => {
        if (JSON.stringify(args[1]) !== JSON.stringify({ n: node.index })) {
          throw new Error(`broadcast: ${c.name} got ${JSON.stringify(args)}`);
        }
      },
    });
    const bin = [node.index, 1, 2, 250];
    const btag = newTag(`binary-broadcast-from-${node.name}`);
    await delivery(`binary broadcast from ${node.name}`, "broadcast", btag, core, () => polling.emit("broadcast", btag, Buffer.from(bin)), {
      check: expectBinary(`binary broadcast from ${node.name}`, bin),
    });
  }
  log("broadcasts ok");

  // Rooms: clients 0 (WebSocket) and 1 (polling) of every node join "room-a".
  const members = nodes.flatMap((node) => on(node, core).slice(0, 2));
  await Promise.all(members.map((c) => c.call("join", "room-a")));
  for (const node of nodes) {
    const sender = on(node, core)[2]; // not a member
    const tag = newTag(`to-room-a-from-${node.name}`);
    await delivery(`to room-a from ${node.name}`, "to", tag, members, () => sender.emit("to", "room-a", tag));
  }
  log("rooms ok");

  // Requests every node answers.
  for (const node of nodes) {
    const [, polling, ws] = on(node, core);
    await expectAck("count", ws, total, "count");
    await expectAck("count-room room-a", polling, members.length, "count-room", "room-a");
    await expectAck("count-room nobody", ws, 0, "count-room", "nobody");
    await expectAck("sse", polling, N - 1, "sse");
    await expectAck("bcack", ws, total, "bcack");
  }
  log("count, count-room, sse, bcack ok");

  // move: from node i, room-a's members join move-i (on every node); then `to` from node i+1.
  for (const node of nodes) {
    const room = `move-${node.index}`;
    on(node, core)[3].emit("move", "room-a", room);
    const next = nodes[(node.index + 1) % N];
    const asker = on(next, core)[3];
    await untilValue(`count-room ${room} after move from ${node.name}`, () => asker.call("count-room", room), members.length);
    const tag = newTag(`to-${room}-from-${next.name}`);
    await delivery(`to ${room} (moved from ${node.name}) from ${next.name}`, "to", tag, members, () => asker.emit("to", room, tag));
  }
  log("move ok");

  // The emitter (classic adapter only).
  const emitter = SHARDED ? null : startEmitter();
  try {
    let stayers = [];
    if (emitter) {
      let tag = newTag("emitter-to-all");
      await delivery("emitter emit to all", "from-emitter", tag, core, () =>
        emitter.run({ op: "emit", nsp: "/", to: [], except: [], volatile: false, event: "from-emitter", args: [tag, 1, "a"], binary: false }),
      );
      tag = newTag("emitter-to-room-a");
      await delivery("emitter emit to room-a", "from-emitter", tag, members, () =>
        emitter.run({ op: "emit", to: ["room-a"], event: "from-emitter", args: [tag] }),
      );
      tag = newTag("emitter-except-room-a");
      await delivery("emitter emit except room-a", "from-emitter", tag, core.filter((c) => !members.includes(c)), () =>
        emitter.run({ op: "emit", except: ["room-a"], event: "from-emitter", args: [tag] }),
      );
      tag = newTag("emitter-binary");
      await delivery("emitter emit binary to all", "from-emitter", tag, core, () =>
        emitter.run({ op: "emit", to: [], event: "from-emitter", args: [tag, "x"], binary: true }), {
        check: expectBinary("emitter binary", [1, 2, 3]),
      });
      // volatile: a node drops it for a client whose transport cannot take it now, which a
      // polling client between two GETs cannot; an idle WebSocket can.
      tag = newTag("emitter-volatile");
      const idleWs = core.filter((c) => c.transport === "websocket");
      await delivery("emitter volatile emit to all", "from-emitter", tag, idleWs, () =>
        emitter.run({ op: "emit", volatile: true, event: "from-emitter", args: [tag] }), {
        maybe: (c) => c.transport === "polling",
      });
      // socketsJoin: room-a's members join room-e on every node.
      await emitter.run({ op: "socketsJoin", to: ["room-a"], rooms: ["room-e"] });
      for (const node of nodes) {
        await untilValue(`count-room room-e on ${node.name} after socketsJoin`, () => on(node, core)[2].call("count-room", "room-e"), members.length);
      }
      for (const node of nodes) {
        tag = newTag(`to-room-e-from-${node.name}`);
        await delivery(`to room-e (emitter socketsJoin) from ${node.name}`, "to", tag, members, () => on(node, core)[2].emit("to", "room-e", tag));
      }
      // socketsLeave: the WebSocket members (client 0 of each node) leave room-e again.
      const leavers = nodes.map((node) => on(node, core)[0]);
      await emitter.run({ op: "socketsLeave", to: leavers.map((c) => c.socket.id), rooms: ["room-e"] });
      stayers = members.filter((c) => !leavers.includes(c));
      await untilValue("count-room room-e after socketsLeave", () => on(nodes[0], core)[2].call("count-room", "room-e"), stayers.length);
      tag = newTag("to-room-e-after-leave");
      await delivery("to room-e after emitter socketsLeave", "to", tag, stayers, () => on(nodes[N - 1], core)[3].emit("to", "room-e", tag));
      // serverSideEmit("hello") from the emitter (no ack: the emitter cannot take one). Nodes answer
      // `hello` only through an ack, so clients cannot observe it: this only checks that every
      // node takes it and still answers cluster requests.
      await emitter.run({ op: "serverSideEmit", event: "hello", args: ["from-emitter"] });
      for (const node of nodes) {
        const c = on(node, core)[2];
        await expectAck(`count after emitter serverSideEmit`, c, total, "count");
        await expectAck(`sse after emitter serverSideEmit`, c, N - 1, "sse");
      }
      log("emitter emit, socketsJoin, socketsLeave, serverSideEmit ok");
    } else {
      log("sharded adapter: emitter steps skipped");
    }

    // Every step once more, after a fence from every node.
    await fenceAndVerifyAll();
    log("fence ok");

    // kick from each node: one fresh client of every node in room kick-i, transports alternating.
    for (const node of nodes) {
      const victims = await connectClients(1, `k${node.index}-`);
      await Promise.all(victims.map((c) => c.call("join", `kick-${node.index}`)));
      await disconnection(`kick kick-${node.index} from ${node.name}`, victims, () =>
        on(node, core)[3].emit("kick", `kick-${node.index}`),
      );
    }
    log("kick ok");

    // disconnectSockets from the emitter: room-e's stayers (client 1 of every node).
    if (emitter) {
      await disconnection("emitter disconnectSockets room-e", stayers, () =>
        emitter.run({ op: "disconnectSockets", to: ["room-e"], close: true }),
      );
    }
    const left = live();
    for (const node of nodes) await expectAck("count after the disconnects", on(node, left)[0], left.length, "count");
    log("disconnectSockets ok");
  } finally {
    emitter?.close();
  }
  return { nodes: nodes.map((n) => n.name), clients: clients.length, steps: steps.length };
}

/** One line from the Rust test on stdin. */
const stdinLines = readline.createInterface({ input: process.stdin });
const stdinQueue = [];
let stdinWaiter = null;
stdinLines.on("line", (line) => {
  stdinQueue.push(line);
  stdinWaiter?.();
});

async function ask(need, answer) {
  process.stdout.write(`need ${need}\n`);
  await within(
    120_000,
    `"${answer}" on stdin`,
    new Promise((resolve) => {
      stdinWaiter = () => stdinQueue.length && resolve();
      stdinWaiter();
    }),
  );
  stdinWaiter = null;
  const line = stdinQueue.shift();
  if (line !== answer) throw new Error(`stdin: got "${line}", expected "${answer}"`);
}

async function restart() {
  const before = await connectClients(2, "c");
  for (const node of nodes) {
    const tag = newTag(`before-from-${node.name}`);
    await delivery(`broadcast from ${node.name} before`, "broadcast", tag, before, () => on(node, before)[0].emit("broadcast", tag));
  }
  log("cross-node broadcast ok; Redis goes down");

  await ask("kill-redis", "redis-killed");
  // Local delivery only: the node's own clients once; clients of other nodes may get it after
  // Redis is back (a publisher may queue it), but never twice.
  const during = [];
  for (const node of nodes) {
    const fresh = [new Client(node, "websocket", "d0"), new Client(node, "polling", "d1")];
    await Promise.all(fresh.map((c) => c.connected()));
    during.push(...fresh);
    for (const sender of [on(node, before)[1], fresh[0]]) {
      const mine = on(node, live());
      const tag = newTag(`down-from-${sender.name}`);
      await delivery(`local broadcast from ${sender.name} with Redis down`, "broadcast", tag, mine, () => sender.emit("broadcast", tag), {
        maybe: (c) => c.node !== node,
      });
    }
  }
  log("local delivery and new clients without Redis ok");

  await ask("restart-redis", "redis-back");
  const everyone = live();
  if (everyone.length !== clients.length) throw new Error(`clients lost while Redis was down: ${clients.filter((c) => !c.live).map((c) => c.name)}`);
  for (const node of nodes) {
    for (const sender of [on(node, before)[0], on(node, during)[1]]) {
      const tag = newTag(`after-from-${sender.name}`);
      await delivery(`broadcast from ${sender.name} after the restart`, "broadcast", tag, everyone, () => sender.emit("broadcast", tag));
    }
  }
  for (const node of nodes) await expectAck("count after the restart", on(node, everyone)[1], everyone.length, "count");
  await fenceAndVerifyAll();
  log("cross-node broadcast after the restart ok");
  return { nodes: nodes.map((n) => n.name), clients: clients.length, steps: steps.length };
}

runScript(`cluster ${scenario}`, 240_000, async () => {
  try {
    const summary = await (scenario === "full" ? full() : restart());
    return { verified: `cluster ${scenario}`, ...summary };
  } finally {
    for (const c of clients) c.socket.disconnect();
    stdinLines.close();
  }
});
