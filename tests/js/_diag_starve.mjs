import { WebSocket } from "ws";
import { Socket } from "engine.io-client";
const [port, nflood] = process.argv.slice(2).map(Number);
const floods = [];
for (let i = 0; i < nflood; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/engine.io/?EIO=4&transport=websocket`);
  ws.on("message", (d) => { if (String(d) === "2") ws.send("3"); });
  ws.on("open", () => { const t = setInterval(() => { if (ws.readyState === 1 && ws.bufferedAmount < 4e6) for (let k = 0; k < 50; k++) ws.send("4" + "x".repeat(1000)); }, 1); ws.on("close", () => clearInterval(t)); });
  floods.push(ws);
}
const watchers = [];
for (let i = 0; i < 4; i++) {
  const s = new Socket(`http://127.0.0.1:${port}`, { transports: ["websocket"] });
  const w = { pings: [], closed: null };
  s.on("ping", () => w.pings.push(Date.now()));
  s.on("close", (r) => (w.closed = r));
  watchers.push(w);
}
setTimeout(() => {
  for (const w of watchers) {
    const gaps = w.pings.slice(1).map((t, i) => t - w.pings[i]);
    console.log("pings", w.pings.length, "max gap", Math.max(0, ...gaps), "closed", w.closed);
  }
  process.exit(0);
}, 4000);
