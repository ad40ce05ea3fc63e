// The Socket.IO Admin UI's namespace, driven by socket.io-client 4 as the dashboard drives it,
// against tests/admin_ui.rs's server (2 shards, basic auth `admin` / `secret`, development mode).
//
// argv: `<port> 4`. Checks: wrong credentials are refused as Node refuses them; a login gets
// `session`, `config`, `all_sockets` and `server_stats`; the session id logs in again without
// the password; other clients' sockets coming and going show as `socket_connected` /
// `socket_disconnected`, the events they send and get as `event_received` / `event_sent`;
// `join`, `emit`, `leave` and `_disconnect` act on a socket that lives on the other shard than
// the admin's. Ends with one JSON line (see harness.mjs).

import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { runScript, within } from "./harness.mjs";

const WAIT = 10_000;
/** Fresh connections tried to get one on the other shard (each misses with p = 1/2). */
const SHARD_TRIES = 16;

const [portArg] = process.argv.slice(2);
const base = `http://127.0.0.1:${Number(portArg)}`;

function connect(nsp, auth, extra = {}) {
  return io(`${base}${nsp}`, { auth, forceNew: true, reconnection: false, timeout: WAIT, ...extra });
}

/** The shard owning a connection: the Engine.IO sid's first byte modulo 2. */
function shardOf(socket) {
  return Buffer.from(socket.io.engine.id.slice(0, 4), "base64url")[0] % 2;
}

function connected(socket, what) {
  return within(WAIT, what, new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }));
}

/** Every event an admin socket gets, kept in order, and waits on them. */
class Feed {
  constructor(socket) {
    this.events = [];
    this.waiters = [];
    socket.onAny((name, ...args) => {
      this.events.push({ name, args });
      this.waiters = this.waiters.filter((w) => !w.check());
    });
  }

  /** The first event named `name` (from `from` on) whose args satisfy `pred`. */
  find(name, pred, from = 0) {
    return this.events.slice(from).find((e) => e.name === name && pred(...e.args));
  }

  wait(name, pred = () => true, what = name, from = 0) {
    return within(WAIT, what, new Promise((resolve) => {
      const check = () => {
        const found = this.find(name, pred, from);
        if (found) resolve(found.args);
        return Boolean(found);
      };
      if (!check()) this.waiters.push({ check });
    }));
  }
}

runScript("admin_ui", 90_000, async () => {
  // Wrong credentials: the middleware's error, as Node's `next(new Error("invalid credentials"))`.
  const wrong = connect("/admin", { username: "admin", password: "wrong" });
  const refusal = await within(WAIT, "the refusal", new Promise((resolve) => wrong.once("connect_error", resolve)));
  assert.equal(refusal.message, "invalid credentials");
  assert.equal(refusal.data, undefined);
  wrong.close();
  const nobody = connect("/admin", {});
  const refusal2 = await within(WAIT, "the refusal without credentials", new Promise((resolve) => nobody.once("connect_error", resolve)));
  assert.equal(refusal2.message, "invalid credentials");
  nobody.close();

  const admin = connect("/admin", { username: "admin", password: "secret" });
  const feed = new Feed(admin);
  await connected(admin, "the admin's connect");
  const [session] = await feed.wait("session");
  assert.match(session, /^[0-9a-f]{16}$/);
  const [config] = await feed.wait("config");
  assert.deepEqual(config.supportedFeatures, [
    "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS",
  ]);
  const [all] = await feed.wait("all_sockets");
  const me = all.find((s) => s.id === admin.id);
  assert.ok(me, `the admin's own socket in all_sockets: ${JSON.stringify(all)}`);
  assert.equal(me.nsp, "/admin");
  assert.equal(me.clientId, admin.io.engine.id.slice(0, 12));
  assert.deepEqual(Object.keys(me), ["id", "clientId", "transport", "nsp", "data", "handshake", "rooms"]);
  assert.deepEqual(Object.keys(me.handshake), ["address", "headers", "query", "issued", "secure", "time", "url", "xdomain"]);
  assert.deepEqual(me.rooms, [admin.id]);
  const [stats] = await feed.wait("server_stats");
  assert.deepEqual(Object.keys(stats), [
    "serverId", "hostname", "pid", "uptime", "clientsCount", "pollingClientsCount", "aggregatedEvents", "namespaces",
  ]);
  assert.ok(stats.namespaces.some((n) => n.name === "/admin" && n.socketsCount >= 1), JSON.stringify(stats));

  // The session logs in again without the password.
  const again = connect("/admin", { sessionId: session });
  await connected(again, "a login with the session id");
  const againId = again.id;
  again.close();
  await feed.wait("socket_disconnected", (nsp, id) => nsp === "/admin" && id === againId, "the second admin's disconnect");

  // A client on the other shard than the admin's.
  const adminShard = shardOf(admin);
  let client;
  let tries = 0;
  for (;;) {
    tries += 1;
    client = connect("/", {}, { transports: ["websocket"] });
    await connected(client, "a client's connect");
    if (shardOf(client) !== adminShard || tries === SHARD_TRIES) break;
    client.close();
  }
  assert.notEqual(shardOf(client), adminShard, `no client on the other shard in ${tries} tries`);
  const [shown] = await feed.wait("socket_connected", (s) => s.id === client.id, "the client's socket_connected");
  assert.equal(shown.nsp, "/");
  assert.equal(shown.transport, "websocket");
  assert.equal(shown.clientId, client.io.engine.id.slice(0, 12));
  assert.ok(Date.parse(feed.find("socket_connected", (s) => s.id === client.id).args[1]) > 0, "a date");

  // Its events, both ways.
  const echoed = new Promise((resolve) => client.once("echo", resolve));
  client.emit("echo", "ping", 7);
  await within(WAIT, "the echo", echoed);
  const [, , received] = await feed.wait("event_received", (nsp, id) => nsp === "/" && id === client.id, "event_received");
  assert.deepEqual(received, ["echo", "ping", 7]);
  const [, , sent] = await feed.wait("event_sent", (nsp, id) => nsp === "/" && id === client.id, "event_sent");
  assert.deepEqual(sent, ["echo", "ping", 7]);

  // join, then an emit to the room reaches it: the join took effect on the client's shard.
  admin.emit("join", "/", "vip", client.id);
  await feed.wait("room_joined", (nsp, room, id) => nsp === "/" && room === "vip" && id === client.id, "room_joined");
  const hello = new Promise((resolve) => client.once("hello", (...args) => resolve(args)));
  admin.emit("emit", "/", "vip", "hello", "from", "admin");
  assert.deepEqual(await within(WAIT, "the room's emit", hello), ["from", "admin"]);

  // leave: a later emit to the room no longer reaches it (the one to its own id, after it, does).
  admin.emit("leave", "/", "vip", client.id);
  await feed.wait("room_left", (nsp, room, id) => nsp === "/" && room === "vip" && id === client.id, "room_left");
  const missed = [];
  client.on("hello", (...args) => missed.push(args));
  const after = new Promise((resolve) => client.once("after", resolve));
  admin.emit("emit", "/", "vip", "hello", "not for you");
  admin.emit("emit", "/", client.id, "after");
  await within(WAIT, "the emit after leaving", after);
  assert.deepEqual(missed, []);

  // _disconnect: the socket on the other shard goes, as by `disconnectSockets(false)`.
  const gone = new Promise((resolve) => client.once("disconnect", resolve));
  const mark = feed.events.length;
  const clientId = client.id;
  admin.emit("_disconnect", "/", false, clientId);
  assert.equal(await within(WAIT, "the client's disconnect", gone), "io server disconnect");
  const [, , reason] = await feed.wait("socket_disconnected", (nsp, id) => nsp === "/" && id === clientId, "socket_disconnected", mark);
  assert.equal(reason, "server namespace disconnect");
  await feed.wait("room_left", (nsp, room, id) => room === id && id === clientId, "the own room's room_left", mark);

  // Clients that come and go move the server's count.
  const before = feed.events.length;
  const others = [connect("/", {}), connect("/", {})];
  await Promise.all(others.map((s, i) => connected(s, `other client ${i}`)));
  for (const other of others) {
    await feed.wait("socket_connected", (s) => s.id === other.id, "another socket_connected", before);
  }
  const counted = await feed.wait("server_stats", (s) => s.clientsCount >= 3, "server_stats counting 3 clients", before);
  const ids = others.map((s) => s.id);
  for (const other of others) other.close();
  for (const id of ids) {
    const [, , why] = await feed.wait("socket_disconnected", (nsp, sid) => sid === id, "another socket_disconnected", before);
    assert.equal(why, "client namespace disconnect");
  }
  const after2 = feed.events.length;
  const dropped = await feed.wait("server_stats", (s) => s.clientsCount === 1, "server_stats back to the admin alone", after2);
  admin.close();
  return {
    verified: "admin namespace: auth, stats, sockets, events and actions across shards",
    tries,
    counts: [counted[0].clientsCount, dropped[0].clientsCount],
  };
});
