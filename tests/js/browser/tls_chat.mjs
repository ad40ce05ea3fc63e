// The demo chat over HTTPS and wss:// (tests/tls.rs serves it with a certificate made by the
// test): `node browser/tls_chat.mjs <port> 4 <screenshot dir> <spki sha256>`. Chromium trusts
// that one certificate by its public key (`--ignore-certificate-errors-spki-list`), nothing
// else. Two tabs load the page, upgrade to WebSocket (wss://) and exchange messages.

import assert from "node:assert/strict";
import { openTab, runScript, screenshot, send, setNick, state, waitMessage, waitText, withBrowser } from "./lib.mjs";

runScript("browser/tls_chat", 110_000, async () => {
  const [portArg, , shots, spki] = process.argv.slice(2);
  assert.ok(Number(portArg) > 0 && shots && spki, "usage: <port> 4 <screenshot dir> <spki sha256>");
  const base = `https://localhost:${portArg}/`;
  const flags = [`--ignore-certificate-errors-spki-list=${spki}`];
  return withBrowser(
    shots,
    async (browser) => {
      const tabs = [];
      for (const name of ["alice", "bob"]) {
        const tab = await openTab(browser, name, base);
        await waitText(tab, "#transport", "websocket");
        assert.deepEqual((await state(tab)).transports, ["polling", "websocket"], `${name}: transports used`);
        const where = await tab.page.evaluate(() => ({
          protocol: location.protocol,
          secure: window.isSecureContext,
          ws: window.demo.socket.io.engine.transport.ws?.url,
        }));
        assert.equal(where.protocol, "https:", `${name}: ${JSON.stringify(where)}`);
        assert.equal(where.secure, true);
        assert.match(String(where.ws), /^wss:\/\//, `${name}: the WebSocket is wss://`);
        tabs.push(tab);
      }
      const [alice, bob] = tabs;
      await setNick(alice, "alice");
      await setNick(bob, "bob");
      await waitText(alice, "#users", "2");
      await send(alice, "hello over TLS 🔒");
      await waitMessage(bob, "hello over TLS 🔒", { nick: "alice" });
      await send(bob, "received, over wss");
      await waitMessage(alice, "received, over wss", { nick: "bob" });
      await screenshot(alice, shots, "alice-https");
      await screenshot(bob, shots, "bob-https");
      return { verified: "the demo chat over https and wss" };
    },
    flags,
  );
});
