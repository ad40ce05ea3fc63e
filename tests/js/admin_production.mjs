// The Admin UI in production mode without a login (tests/admin_ui.rs): anyone connects; `config`
// offers the actions and aggregated events but not ALL_EVENTS; `server_stats` counts a client
// that connects, while no per-socket notification (`socket_connected`, `all_sockets`, …) is
// sent. argv: `<port> 4`.

import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { runScript, within } from "./harness.mjs";

const WAIT = 10_000;
const [port] = process.argv.slice(2);
const connect = (nsp) => io(`http://127.0.0.1:${port}${nsp}`, { forceNew: true, reconnection: false, transports: ["websocket"] });

runScript("admin_production", 60_000, async () => {
  const admin = connect("/admin");
  const names = [];
  admin.onAny((name) => names.push(name));
  const config = within(WAIT, "config", new Promise((r) => admin.once("config", r)));
  await within(WAIT, "the admin's connect", new Promise((r, j) => { admin.once("connect", r); admin.once("connect_error", j); }));
  assert.deepEqual((await config).supportedFeatures, [
    "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS",
  ]);
  const client = connect("/");
  await within(WAIT, "the client's connect", new Promise((r) => client.once("connect", r)));
  client.emit("echo", 1);
  await within(WAIT, "a server_stats counting the client", new Promise((resolve) => {
    admin.on("server_stats", (s) => { if (s.clientsCount === 2) resolve(); });
  }));
  const verbose = names.filter((n) => n !== "config" && n !== "server_stats");
  assert.deepEqual(verbose, [], "production mode sends no per-socket notification");
  client.close();
  admin.close();
  return { verified: "production mode: stats only", events: [...new Set(names)] };
});
