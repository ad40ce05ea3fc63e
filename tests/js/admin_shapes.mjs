// What a dashboard sees of the Admin UI's namespace, reduced to what two servers must share:
// event names, argument counts, keys in order and value types, and the values that do not
// depend on the server (the refusal, `config`, reasons, an event's arguments). tests/admin_ui.rs
// runs it against tpcio and against Node's `instrument` (loadtest/node-reference/admin-ui.mjs)
// and compares the two summaries.
//
// argv: `<port> 4`. Ends with one JSON line (see harness.mjs) whose `seen` is the summary.

import { io } from "socket.io-client";
import { runScript, within } from "./harness.mjs";

const WAIT = 10_000;
const [portArg] = process.argv.slice(2);
const base = `http://127.0.0.1:${Number(portArg)}`;

function connect(nsp, auth, extra = {}) {
  return io(`${base}${nsp}`, { auth, forceNew: true, reconnection: false, timeout: WAIT, transports: ["websocket"], ...extra });
}

/** Types in place of values, keys kept in order; the contents of `headers` and `query` vary by client. */
function shape(v, key) {
  if (key === "headers" || key === "query") return "object";
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x, k)]));
  return v === null ? "null" : typeof v;
}

/** Each argument's shape: the argument count shows. */
const argShapes = (args) => args.map((a) => shape(a));

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

runScript("admin_shapes", 60_000, async () => {
  const seen = {};
  const wrong = connect("/admin", { username: "admin", password: "wrong" });
  const refusal = await within(WAIT, "the refusal", new Promise((r) => wrong.once("connect_error", r)));
  seen.refusal = { message: refusal.message, data: refusal.data ?? "undefined" };
  wrong.close();

  const admin = connect("/admin", { username: "admin", password: "secret" });
  const config = next(admin, "config");
  const all = next(admin, "all_sockets");
  const stats = next(admin, "server_stats", (s) => s.aggregatedEvents.some((e) => e.type === "rawConnection"));
  await within(WAIT, "the admin's connect", new Promise((r, j) => { admin.once("connect", r); admin.once("connect_error", j); }));
  seen.config = (await config)[0];
  const sockets = (await all)[0];
  seen.all_sockets = shape(sockets.find((s) => s.id === admin.id));

  const client = connect("/", {});
  const connected = next(admin, "socket_connected", (s) => s.nsp === "/");
  const joined = next(admin, "room_joined", (nsp) => nsp === "/");
  await within(WAIT, "the client's connect", new Promise((r) => client.once("connect", r)));
  const id = client.id;
  seen.socket_connected = argShapes(await connected);
  seen.room_joined = argShapes(await joined);
  const received = next(admin, "event_received", (nsp, sid) => sid === id);
  const sent = next(admin, "event_sent", (nsp, sid) => sid === id);
  client.emit("echo", "ping", { n: 1 });
  const receivedAll = await received;
  const [, , receivedArgs, receivedAt] = receivedAll;
  seen.event_received = { arity: receivedAll.length, args: receivedArgs, iso: !Number.isNaN(Date.parse(receivedAt)) };
  const sentAll = await sent;
  seen.event_sent = { arity: sentAll.length, args: sentAll[2] };
  const disconnected = next(admin, "socket_disconnected", (nsp, sid) => sid === id);
  const left = next(admin, "room_left", (nsp, room, sid) => sid === id);
  client.close();
  const gone = await disconnected;
  seen.socket_disconnected = { shapes: argShapes(gone), reason: gone[2] };
  seen.room_left = argShapes(await left);
  const [s] = await stats;
  seen.server_stats = shape({ ...s, aggregatedEvents: undefined });
  seen.aggregated_event = shape(s.aggregatedEvents.find((e) => e.type === "rawConnection"));
  seen.namespaces = shape(s.namespaces);
  admin.close();
  return { verified: "what a dashboard sees", seen };
});
