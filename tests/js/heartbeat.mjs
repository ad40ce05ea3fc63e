// The heartbeat keeps an idle session alive for more than 3 ping intervals, with no close.
// usage: node heartbeat.mjs <port> <3|4> <polling|websocket>
//
// EIO=4: the server pings, the v6 client answers (its `ping` event counts server pings).
// EIO=3: the v3 client pings every pingInterval and the server must pong within pingTimeout
// (its `pong` event counts answers). Either way a missed beat closes the client with
// "ping timeout", which fails the script.

import assert from "node:assert/strict";
import { Inbox, assertEchoed, closeAndWait, openSocket, opened, parseArgs, runScript, within } from "./harness.mjs";

const args = parseArgs();
const [mode] = args.rest;
const INTERVALS = 4;

runScript("heartbeat", 10_000, async () => {
  const socket = openSocket(args, mode);
  const inbox = new Inbox(socket);
  let handshake = null;
  let closed = null;
  socket.once("handshake", (data) => {
    handshake = data;
  });
  socket.on("close", (reason, desc) => {
    closed = `${reason} ${desc ? JSON.stringify(String(desc)) : ""}`;
  });

  const beat = args.eio === 4 ? "ping" : "pong";
  const beats = [];
  const enoughBeats = new Promise((resolve, reject) => {
    socket.on(beat, () => {
      beats.push(Date.now());
      if (beats.length >= INTERVALS) resolve();
    });
    socket.on("close", (reason) => reject(new Error(`closed after ${beats.length} beats: ${reason}`)));
  });

  await opened(socket);
  const start = Date.now();
  assert.ok(handshake, "handshake event");
  assert.equal(handshake.pingInterval, 300, "conformance pingInterval");
  assert.equal(handshake.pingTimeout, 200, "conformance pingTimeout");
  assert.equal(socket.transport.name, mode);

  await within(3000, `${INTERVALS} ${beat} events`, enoughBeats);
  const elapsed = Date.now() - start;
  assert.ok(elapsed > 3 * handshake.pingInterval, `alive for ${elapsed} ms > 3 intervals`);

  // Still a working session, on the same transport.
  assert.equal(closed, null, "no close during the heartbeat");
  const probe = ["still alive ✓"];
  socket.send(probe[0]);
  assertEchoed(probe, await inbox.take(1), "echo after the heartbeat");
  assert.equal(socket.transport.name, mode);

  const [reason] = await closeAndWait(socket);
  assert.equal(reason, "forced close");
  const gaps = beats.slice(1).map((t, i) => t - beats[i]);
  return { verified: `heartbeat eio=${args.eio} ${mode}`, beats: beats.length, elapsed, gaps };
});
