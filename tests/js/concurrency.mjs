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
  once,
  openSocket,
  opened,
  parseArgs,
  runScript,
  sendAll,
  within,
} from "./harness.mjs";

const args = parseArgs();
const clients = Number(args.rest[0] ?? 20);

async function client(i) {
  const socket = openSocket(args, "upgrade");
  const inbox = new Inbox(socket);
  const upgraded = once(socket, "upgrade");
  await opened(socket, 5000);
  const before = sendAll(socket, burstMessages(10, `c${i}-before`));
  await within(5000, `client ${i} upgrade`, upgraded);
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
