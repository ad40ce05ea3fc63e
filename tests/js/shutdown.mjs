// The server stopping closes a connected client cleanly.
// usage: node shutdown.mjs <port> <3|4> <polling|websocket>
//
// Protocol with the Rust test: once connected (and one echo done) the script prints `ready`;
// the test then calls `running.shutdown()`, and the client must see `close` within 5 s. On
// polling the reason must be "transport close" (a close packet on the pending GET; a dropped
// connection would be "transport error" instead). On WebSocket it is "transport close" too;
// whether a close packet ("1") preceded the WebSocket close is reported, not asserted (Node's
// server closes the WebSocket without one).

import assert from "node:assert/strict";
import { Inbox, assertEchoed, once, openSocket, opened, parseArgs, runScript, within } from "./harness.mjs";

const args = parseArgs();
const [mode] = args.rest;

runScript("shutdown", 10_000, async () => {
  const socket = openSocket(args, mode);
  const inbox = new Inbox(socket);
  const errors = [];
  socket.on("error", (e) => errors.push(String(e && e.message ? e.message : e)));
  let closePacket = false;
  socket.on("packet", (packet) => {
    if (packet.type === "close") closePacket = true;
  });
  const closed = once(socket, "close");

  await opened(socket);
  socket.send("before shutdown");
  assertEchoed(["before shutdown"], await inbox.take(1), "echo before shutdown");
  assert.equal(socket.transport.name, mode);

  process.stdout.write("ready\n");
  const [reason, desc] = await within(5000, "close after the server shut down", closed);
  const description = desc instanceof Error ? desc.message : desc && desc.description;
  assert.equal(reason, "transport close", `close reason (description: ${description}, errors: ${errors})`);
  assert.deepEqual(errors, [], "no error event");
  return { verified: `shutdown eio=${args.eio} ${mode}`, reason, description: description ?? null, closePacket };
});
