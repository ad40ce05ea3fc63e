// The demo chat without WebSocket: one tab asks for polling only (`/?transports=polling`), one
// has no `WebSocket` at all (removed by an init script, as in old browsers), one has its
// WebSockets refused (closed by `context.routeWebSocket`, as by a proxy). The last two try to
// upgrade, fail, and keep polling. All three still chat and count each other.

import assert from "node:assert/strict";
import {
  openTab, parseBrowserArgs, runScript, screenshot, send, setNick, state, waitMessage, waitState,
  waitText, withBrowser,
} from "./lib.mjs";

runScript("browser/polling", 110_000, async () => {
  const { base, shots } = parseBrowserArgs();
  return withBrowser(shots, async (browser) => {
    const forced = await openTab(browser, "forced", `${base}?transports=polling`);
    const noWs = await openTab(browser, "no-ws", base, (context) =>
      context.addInitScript(() => {
        window.WebSocket = undefined;
      }),
    );
    let refused = 0;
    const blocked = await openTab(browser, "blocked", base, (context) =>
      context.routeWebSocket(/.*/, (ws) => {
        refused += 1;
        ws.close({ code: 1008, reason: "blocked by the test" });
      }),
    );

    // The two that may upgrade tried, failed, and stayed on polling.
    await waitState(noWs, "saw its upgrade fail", (s) => s.upgradeErrors.length > 0);
    await waitState(blocked, "saw its upgrade fail", (s) => s.upgradeErrors.length > 0);
    assert.ok(refused > 0, "the blocked tab never opened a WebSocket");

    const tabs = [forced, noWs, blocked];
    for (const [i, tab] of tabs.entries()) await setNick(tab, `poller${i}`);
    for (const tab of tabs) await waitText(tab, "#users", "3");

    await send(forced, "polling only here");
    await waitMessage(noWs, "polling only here", { nick: "poller0" });
    await waitMessage(blocked, "polling only here", { nick: "poller0" });
    await send(noWs, "no WebSocket here");
    await waitMessage(forced, "no WebSocket here", { nick: "poller1" });
    await send(blocked, "WebSocket refused here");
    await waitMessage(forced, "WebSocket refused here", { nick: "poller2" });
    await waitMessage(noWs, "WebSocket refused here", { nick: "poller2" });

    for (const tab of tabs) {
      await waitText(tab, "#transport", "polling");
      const seen = await state(tab);
      assert.deepEqual(seen.transports, ["polling"], `${tab.name}: transports used`);
      await screenshot(tab, shots, `polling-${tab.name}`);
    }
    assert.deepEqual((await state(forced)).upgradeErrors, [], "forced: polling only never probes");
    return { verified: "polling-only tabs chat", refused_websockets: refused, shots };
  });
});
