// Many clients at once, spread over the server's shards, all echo correctly.
// usage: node concurrency.mjs <port> <3|4> <clients>
//
// Every client starts on polling and upgrades to WebSocket (the default); it echoes a few
// messages before and after the upgrade. With SO_REUSEPORT each new TCP connection (the client
// opens a fresh one per request) lands on a shard by hash, so sessions get handed over between
// shards; the Rust test checks the handoff counter.

import assert from "node:assert/strict";
import {
  Inbox,
  assertEchoed,
  burstMessages,
  closeAndWait,
  describe,
  openSocket,
  opened,
  parseArgs,
  runScript,
  sendAll,
  untilEvent,
} from "./harness.mjs";

const args = parseArgs();
const clients = Number(args.rest[0] ?? 20);

const t0 = Date.now();

/** Records a client's lifecycle, so that a failure says what the client went through. */
function trace(socket, i) {
  const log = [];
  const note = (what) => log.push(`${Date.now() - t0}ms ${what}`);
  socket.on("open", () => note(`open sid=${socket.id} via ${socket.transport.name}`));
  socket.on("upgrading", () => note("upgrading"));
  socket.on("upgrade", () => note("upgrade"));
  socket.on("upgradeError", (e) => note(`upgradeError ${describe(e)}`));
  socket.on("error", (e) => note(`error ${describe(e)}`));
  socket.on("close", (reason, desc) => note(`close ${reason} ${describe(desc)}`));
  const show = (p) => `${p.type}${typeof p.data === "string" ? ` ${JSON.stringify(p.data.slice(0, 24))}` : p.data ? " <binary>" : ""}`;
  socket.on("packet", (p) => note(`<- ${show(p)} [${socket.transport.name}]`));
  socket.on("packetCreate", (p) => note(`-> ${show(p)}`));
  return (err) => {
    err.message = `client ${i}: ${err.message}\n  ${log.join("\n  ")}`;
    throw err;
  };
}

async function client(i) {
  const socket = openSocket(args, "upgrade");
  const explain = trace(socket, i);
  return clientSteps(i, socket).catch(explain);
}

async function clientSteps(i, socket) {
  const inbox = new Inbox(socket);
  const upgraded = untilEvent(socket, "upgrade", 8000);
  upgraded.catch(() => {}); // awaited below, after open
  await opened(socket, 5000);
  const before = sendAll(socket, burstMessages(10, `c${i}-before`));
  await upgraded;
  assert.equal(socket.transport.name, "websocket", `client ${i} transport`);
  const after = sendAll(socket, burstMessages(10, `c${i}-after`));
  const sent = [...before, ...after];
  assertEchoed(sent, await inbox.take(sent.length, 6000), `client ${i}`);
  return { socket, sid: socket.id, echoed: sent.length };
}

runScript("concurrency", 10_000, async () => {
  assert.ok(Number.isInteger(clients) && clients > 0, "clients count");
  const results = await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  const sids = new Set(results.map((r) => r.sid));
  assert.equal(sids.size, clients, "every session has its own sid");
  const reasons = await Promise.all(results.map((r) => closeAndWait(r.socket).then(([reason]) => reason)));
  assert.ok(
    reasons.every((r) => r === "forced close"),
    `close reasons: ${reasons}`,
  );
  const echoed = results.reduce((n, r) => n + r.echoed, 0);
  return { verified: `concurrency eio=${args.eio} clients=${clients}`, echoed };
});
