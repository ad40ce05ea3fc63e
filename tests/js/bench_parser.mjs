// Not a test: the client half of scripts/bench-parser.sh, which measures the server's CPU per
// Socket.IO message with the JSON and the msgpack parser (tpcio `bench` mode and the Node
// reference `sio-bench.mjs`). WebSocket-only socket.io-client 4 sockets:
//   - echo: each client keeps PIPELINE `echo` events in flight (emitted back by the server);
//   - broadcast: one more client emits `broadcast` RATE times a second, every client receives it.
// Messages are counted over a window of SECONDS after a one-second warm-up; the server's CPU
// time over the same window comes from /proc/SERVER_PID/stat (utime + stime). Prints one JSON
// line. Usage: node bench_parser.mjs PORT SERVER_PID json|msgpack echo|broadcast CLIENTS SECONDS
import { readFileSync } from "node:fs";
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

const [port, pid, parserName, scenario, clientsArg, secondsArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const seconds = Number(secondsArg);
const PIPELINE = 4;
const RATE = 100;
const payload = ["echo-payload-".padEnd(64, "x"), 12345, { k: [1.5, true, null] }];
const opts = { transports: ["websocket"], forceNew: true, reconnection: false };
if (parserName === "msgpack") opts.parser = msgpackParser;

/** Server CPU seconds so far (utime + stime; clock ticks of 10 ms). */
function cpu() {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const deadline = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, error: "deadline" }));
  process.exit(1);
}, (seconds + 30) * 1000);

const sockets = await Promise.all(
  Array.from({ length: clients }, () => {
    const s = io(`http://127.0.0.1:${port}`, opts);
    return new Promise((resolve, reject) => {
      s.once("connect", () => resolve(s));
      s.once("connect_error", reject);
    });
  }),
);
let count = 0;
let sender;
let timer;
if (scenario === "echo") {
  for (const s of sockets) {
    s.on("echo", (...args) => {
      count++;
      s.emit("echo", ...args);
    });
    for (let i = 0; i < PIPELINE; i++) s.emit("echo", ...payload);
  }
} else {
  for (const s of sockets) s.on("broadcast", () => count++);
  sender = io(`http://127.0.0.1:${port}`, opts);
  await new Promise((resolve) => sender.once("connect", resolve));
  timer = setInterval(() => sender.emit("broadcast", ...payload), 1000 / RATE);
}
await new Promise((r) => setTimeout(r, 1000)); // warm-up, not a synchronisation
const [c0, n0, t0] = [cpu(), count, performance.now()];
await new Promise((r) => setTimeout(r, seconds * 1000)); // the measured window
const [c1, n1, t1] = [cpu(), count, performance.now()];
clearInterval(timer);
const messages = n1 - n0;
const cpuSeconds = c1 - c0;
console.log(
  JSON.stringify({
    ok: true,
    parser: parserName,
    scenario,
    clients,
    messages,
    perSecond: Math.round(messages / ((t1 - t0) / 1000)),
    serverCpuSeconds: cpuSeconds,
    cpuMicrosPerMessage: Number(((cpuSeconds * 1e6) / messages).toFixed(2)),
  }),
);
clearTimeout(deadline);
for (const s of [...sockets, sender].filter(Boolean)) s.close();
process.exit(0);
