import { WebSocket } from "ws";
const [port, eio] = process.argv.slice(2);
const t0 = Date.now();
const ws = new WebSocket(`ws://127.0.0.1:${port}/engine.io/?EIO=${eio}&transport=websocket`);
ws.on("message", (d, bin) => console.log(Date.now() - t0, "frame", bin ? "bin" : JSON.stringify(String(d).slice(0, 50))));
ws.on("close", (code, reason) => { console.log(Date.now() - t0, "close", code, String(reason)); process.exit(0); });
ws.on("error", (e) => console.log("error", e.message));
setTimeout(() => process.exit(1), 3000);
