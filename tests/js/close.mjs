// A client-side `socket.close()` ends the session with reason "forced close" on the client.
// usage: node close.mjs <port> <3|4> <polling|websocket|upgrading>
//
// polling / websocket: one echo, then messages are queued and close() is called at once (the
// client first drains its buffer, then closes). upgrading: close() is called from the
// `upgrading` event, so the client waits for the upgrade to finish before closing; the
// server must complete the upgrade handshake for that close to happen.

import assert from "node:assert/strict";
import { Inbox, assertEchoed, once, openSocket, opened, parseArgs, runScript, within } from "./harness.mjs";

const args = parseArgs();
const [mode] = args.rest;

runScript("close", 10_000, async () => {
  const socket = openSocket(args, mode === "upgrading" ? "upgrade" : mode);
  const inbox = new Inbox(socket);
  const errors = [];
  socket.on("error", (e) => errors.push(String(e && e.message ? e.message : e)));
  const closed = once(socket, "close");
  let upgraded = false;

  if (mode === "upgrading") {
    socket.once("upgrade", () => {
      upgraded = true;
    });
    const upgrading = once(socket, "upgrading");
    await opened(socket);
    await within(5000, "the upgrading event", upgrading);
    socket.close();
  } else {
    await opened(socket);
    socket.send("first ✓");
    assertEchoed(["first ✓"], await inbox.take(1), "echo before close");
    for (let i = 0; i < 3; i++) socket.send(`queued ${i}`);
    socket.close();
  }

  const [reason, desc] = await within(3000, "the close event", closed);
  assert.equal(reason, "forced close", `close reason (description: ${desc})`);
  assert.equal(socket.readyState, "closed");
  assert.deepEqual(errors, [], "no error event");
  if (mode === "upgrading") assert.ok(upgraded, "the client finished the upgrade before closing");
  return { verified: `close eio=${args.eio} ${mode}`, reason, upgraded };
});
