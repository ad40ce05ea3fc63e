// The Admin UI on two tpcio servers of one Redis cluster (tests/admin_ui.rs: server ids `a` and
// `b`, no login): a dashboard connected to `a` gets the `server_stats` of both servers, sees a
// client of `b` connect (`socket_connected`, emitted by `b` through Redis), finds it in a new
// dashboard's `all_sockets` (a fetch across servers, its `clientId` from `b`'s answer), and its
// `_disconnect` disconnects it on `b`. argv: `<port a> 4 <port b>`.

import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { runScript, within } from "./harness.mjs";

const WAIT = 15_000;
const [portA, , portB] = process.argv.slice(2);

function connect(port, nsp) {
  return io(`http://127.0.0.1:${port}${nsp}`, { forceNew: true, reconnection: false, transports: ["websocket"], timeout: WAIT });
}

function next(socket, event, pred = () => true) {
  return within(WAIT, event, new Promise((resolve) => {
    const listener = (...args) => {
      if (!pred(...args)) return;
      socket.off(event, listener);
      resolve(args);
    };
    socket.on(event, listener);
  }));
}

function connected(socket, what) {
  return within(WAIT, what, new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }));
}

runScript("admin_cluster", 90_000, async () => {
  const admin = connect(portA, "/admin");
  const statsA = next(admin, "server_stats", (s) => s.serverId === "a");
  const statsB = next(admin, "server_stats", (s) => s.serverId === "b");
  await connected(admin, "the dashboard on a");
  await Promise.all([statsA, statsB]);

  const client = connect(portB, "/");
  const shown = next(admin, "socket_connected", (s) => s.nsp === "/");
  await connected(client, "the client on b");
  const [socket] = await shown;
  assert.equal(socket.id, client.id);
  assert.equal(socket.clientId, client.io.engine.id.slice(0, 12));

  const second = connect(portA, "/admin");
  const all = next(second, "all_sockets");
  await connected(second, "a second dashboard on a");
  const [sockets] = await all;
  const listed = sockets.find((s) => s.id === client.id);
  assert.ok(listed, `b's client in all_sockets: ${JSON.stringify(sockets.map((s) => [s.nsp, s.id]))}`);
  assert.equal(listed.clientId, client.io.engine.id.slice(0, 12));
  assert.equal(listed.transport, "websocket");
  second.close();

  const id = client.id;
  const gone = within(WAIT, "the client's disconnect", new Promise((r) => client.once("disconnect", r)));
  const told = next(admin, "socket_disconnected", (nsp, sid) => sid === id);
  admin.emit("_disconnect", "/", false, id);
  assert.equal(await gone, "io server disconnect");
  const [, , reason] = await told;
  assert.equal(reason, "server namespace disconnect");
  admin.close();
  return { verified: "the admin UI across two servers on Redis", servers: ["a", "b"] };
});
