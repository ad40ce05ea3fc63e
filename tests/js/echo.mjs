// Echo round trips through one engine.io-client socket.
// usage: node echo.mjs <port> <3|4> <polling|websocket|upgrade> [b64]
//
// polling / websocket: that transport only, no upgrade. upgrade: starts on polling, and messages
// sent before (on open), during (on `upgrading`) and after (on `upgrade`) the upgrade must all
// come back, in order. Every mode then echoes text (non-ASCII, emoji, empty, large) and binary
// samples, then a burst of 500 messages (exercising payload batching), and closes the socket.
// `b64` sets forceBase64 (the v3 client then adds b64=1: binary travels as base64 text).

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
  sampleMessages,
  sendAll,
  within,
  wire,
} from "./harness.mjs";

const args = parseArgs();
const [mode, flag] = args.rest;
const b64 = flag === "b64";
const BURST = 500;

runScript("echo", 10_000, async () => {
  const socket = openSocket(args, mode, b64 ? { forceBase64: true } : {});
  const inbox = new Inbox(socket);
  let sent = [];
  let upgrade = null;

  if (mode === "upgrade") {
    // Registered before open, so that no phase of the upgrade is missed.
    const upgraded = new Promise((resolve, reject) => {
      socket.once("upgrading", () => {
        sent.push(...sendAll(socket, burstMessages(20, "during")));
      });
      socket.once("upgrade", () => {
        upgrade = { transport: socket.transport.name };
        sent.push(...sendAll(socket, burstMessages(20, "after")));
        resolve();
      });
      socket.once("upgradeError", (e) => reject(new Error(`upgradeError: ${describe(e)}`)));
      socket.once("close", (r, d) => reject(new Error(`closed (${r} ${describe(d)}) before the upgrade`)));
    });
    upgraded.catch(() => {}); // awaited below, after open
    socket.once("open", () => {
      assert.equal(socket.transport.name, "polling", "an upgrade starts on polling");
      sent.push(...sendAll(socket, burstMessages(20, "before")));
    });
    await opened(socket);
    await within(5000, "the upgrade event", upgraded);
    assert.equal(upgrade.transport, "websocket", "transport after the upgrade event");
    assertEchoed(sent, await inbox.take(sent.length), "before/during/after upgrade");
  } else {
    await opened(socket);
  }

  const expected = mode === "polling" ? "polling" : "websocket";
  assert.equal(socket.transport.name, expected, "transport in use");

  const samples = sendAll(socket, sampleMessages());
  assertEchoed(samples, await inbox.take(samples.length), "samples");

  const burst = sendAll(socket, burstMessages(BURST, "burst"));
  assertEchoed(burst, await inbox.take(burst.length, 8000), "burst");

  assert.equal(socket.transport.name, expected, "transport still in use after the burst");
  assert.equal(socket.readyState, "open");
  assert.equal(inbox.messages.length, inbox.read, "no message beyond the echoes");
  // How binary travelled: base64 text when b64=1, binary WebSocket frames otherwise. Polling in
  // Node is text either way: v4 payloads are always text, and the v3 client finds no XHR2
  // `responseType` in xmlhttprequest-ssl, so it always polls with b64=1.
  if (b64 || mode === "polling") {
    assert.equal(wire.polling.binary + wire.websocket.binary, 0, "no raw binary on the wire");
  } else {
    assert.ok(wire[expected].binary > 0, `raw binary on ${expected}: ${JSON.stringify(wire)}`);
  }
  const [reason] = await closeAndWait(socket);
  assert.equal(reason, "forced close");

  return {
    verified: `echo eio=${args.eio} ${mode}${b64 ? " b64" : ""}`,
    transport: expected,
    upgrade,
    echoed: sent.length + samples.length + burst.length,
    wire,
  };
});
