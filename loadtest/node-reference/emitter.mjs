// Drives `@socket.io/redis-emitter` 5.1 for the cluster tests: reads one JSON command per line
// on stdin, runs it with `new Emitter(redisClient, { key })`, and prints `ok` once Redis has
// taken it (a PING answered after the PUBLISH on the same connection), or `error: ...`.
//   {"op":"emit","nsp":"/","to":["r1"],"except":[],"volatile":false,"event":"e","args":[1],"binary":true}
//     (binary: a Buffer [1,2,3] is appended to the arguments)
//   {"op":"socketsJoin","to":[...],"rooms":[...]}      {"op":"socketsLeave","to":[...],"rooms":[...]}
//   {"op":"disconnectSockets","to":[...],"close":true} {"op":"serverSideEmit","event":"hello","args":[...]}
// `nsp` (default "/"), `to` and `except` (default []) apply to every op.
// Usage: node emitter.mjs REDIS_URL KEY
import readline from "node:readline";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";

const [url, key = "socket.io"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node emitter.mjs REDIS_URL [KEY]");
  process.exit(2);
}
const client = createClient({ url });
client.on("error", (err) => console.error(`redis client: ${err.message ?? err}`));
await client.connect();
const emitter = new Emitter(client, { key });

function run(cmd) {
  let op = emitter.of(cmd.nsp ?? "/");
  if (cmd.to?.length) op = op.to(cmd.to);
  if (cmd.except?.length) op = op.except(cmd.except);
  switch (cmd.op) {
    case "emit": {
      if (cmd.volatile) op = op.volatile;
      const args = cmd.args ?? [];
      op.emit(cmd.event, ...(cmd.binary ? [...args, Buffer.from([1, 2, 3])] : args));
      break;
    }
    case "socketsJoin":
      op.socketsJoin(cmd.rooms);
      break;
    case "socketsLeave":
      op.socketsLeave(cmd.rooms);
      break;
    case "disconnectSockets":
      op.disconnectSockets(Boolean(cmd.close));
      break;
    case "serverSideEmit":
      emitter.of(cmd.nsp ?? "/").serverSideEmit(cmd.event, ...(cmd.args ?? []));
      break;
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

// One command at a time, in order: each `ok` means Redis has received it.
const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  try {
    run(JSON.parse(line));
    await client.ping();
    console.log("ok");
  } catch (err) {
    console.log(`error: ${err.message ?? err}`);
  }
}
await client.quit();
