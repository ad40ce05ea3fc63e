// The Node reference of the Admin UI: socket.io 4.8 with `@socket.io/admin-ui` 0.5.1's
// `instrument(io, { auth: basic admin / secret, mode: "development", serverId: "node" })`, and
// `echo` emitted back with its arguments, as `tpcio bench --admin-ui admin:secret` does.
// tests/admin_ui.rs compares what socket.io-client sees from both (tests/js/admin_shapes.mjs).
// Usage: node admin-ui.mjs PORT; prints `listening PORT` once it listens.
import { createRequire } from "node:module";
import { Server } from "socket.io";
import { instrument } from "@socket.io/admin-ui";

const require = createRequire(import.meta.url);
const bcrypt = require("bcryptjs");

const port = Number(process.argv[2]);
const io = new Server({ pingInterval: 25000, pingTimeout: 20000 });
io.on("connection", (socket) => {
  socket.on("echo", (...args) => socket.emit("echo", ...args));
});
instrument(io, {
  auth: { type: "basic", username: "admin", password: bcrypt.hashSync("secret", 4) },
  mode: "development",
  serverId: "node",
});
io.listen(port);
io.httpServer.on("listening", () => console.log(`listening ${port}`));
