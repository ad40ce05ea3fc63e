// Reconnection after a server restart: `node sio_reconnect.mjs <port> <4|3>`.
//
// Three clients (polling, websocket, upgrade) with reconnection on connect and echo, then the
// script prints `ready`; the Rust test shuts the server down (each client must see
// "transport close") and starts a new one on the same port. Every client must then reconnect
// by itself, be welcomed again by the new server, and echo again.

import assert from "node:assert/strict";
import { parseArgs, runScript } from "./harness.mjs";
import { Collector, connect, MODES, settleTransport, welcomed } from "./sio_lib.mjs";

const ctx = parseArgs();

async function echoed(c, n, tag) {
  c.socket.emit("echo", tag, Buffer.from(tag));
  const got = await c.col.nth("echo", n);
  assert.equal(got[0], tag);
  assert.deepEqual(got[1], Buffer.from(tag));
}

runScript("sio_reconnect", 15000, async () => {
  const clients = await Promise.all(
    MODES.map(async (mode) => {
      const name = `re-${mode}`;
      const socket = connect(ctx, "/", mode, { name }, { reconnection: true });
      const col = new Collector(socket, ["welcome", "echo"], name);
      const first = await welcomed(col, "/", name);
      await settleTransport(socket, mode);
      const c = { mode, name, socket, col, first };
      await echoed(c, 1, `${name} before`);
      return c;
    }),
  );
  process.stdout.write("ready\n");

  const reasons = await Promise.all(clients.map((c) => c.col.disconnected(0, 10000)));
  // A polling client caught between two polls (no GET parked) finds its session gone on the
  // next request: "transport error", as against Node, whose `close(true)` discards it alike.
  for (const r of reasons) assert.ok(["transport close", "transport error"].includes(r), r);
  await Promise.all(
    clients.map(async (c) => {
      const [again] = await c.col.wait("the new server's welcome", () => c.col.got.welcome[1], 10000, false);
      assert.equal(again.name, c.name);
      assert.notEqual(again.id, c.first.id, "a new socket");
      assert.ok(c.socket.connected, `${c.name} is connected again`);
      await settleTransport(c.socket, c.mode);
      await echoed(c, 2, `${c.name} after`);
      c.socket.close();
    }),
  );
  return { verified: `sio reconnect eio=${ctx.eio}`, reasons };
});
