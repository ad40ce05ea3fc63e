// `socket.disconnect(true)` on a connection that joined several namespaces:
// `node sio_close.mjs <port> <4|3> <mode>`.
//
// One connection joins `/`, `/admin` and `/dyn-1`; `/` asks for `close-me`. Node 4.8 (its
// `client._disconnect()`) sends a DISCONNECT to every namespace of the connection before
// closing it, so each client socket reports "io server disconnect" (and none reconnects), and
// the server's handlers see "server namespace disconnect" for all three. The Rust test checks
// both sides, so a failure shows them together.

import { parseArgs, runScript } from "./harness.mjs";
import { Collector, manager, nspSocket, settleTransport, welcomed } from "./sio_lib.mjs";

const ctx = parseArgs();
const [mode] = ctx.rest;

runScript("sio_close", 15000, async () => {
  const mgr = manager(ctx, mode, { name: "cl" });
  const sockets = [
    nspSocket(ctx, mgr, "/", { name: "cl" }),
    nspSocket(ctx, mgr, "/admin", { name: "cl-admin", role: "admin" }),
    nspSocket(ctx, mgr, "/dyn-1", { name: "cl-dyn" }),
  ];
  const cols = sockets.map((s, i) => new Collector(s, ["welcome"], ["/", "/admin", "/dyn-1"][i]));
  await welcomed(cols[0], "/", "cl");
  await welcomed(cols[1], "/admin", "cl-admin");
  await welcomed(cols[2], "/dyn-1", "cl-dyn");
  await settleTransport(sockets[0], mode);

  sockets[0].emit("close-me");
  const reasons = await Promise.all(cols.map((c) => c.disconnected()));
  for (const s of sockets) s.close();
  return { verified: `sio close eio=${ctx.eio} ${mode}`, reasons };
});
