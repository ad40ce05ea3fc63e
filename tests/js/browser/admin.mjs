// The Socket.IO Admin UI's dashboard, served by tpcio at /admin/, in chromium: the page
// defaults to its own origin, asks for the credentials, logs in; its live client count follows
// socket.io-client connections (made by this script) as they come and go; its socket page's
// disconnect button disconnects one of them. Screenshots go to the directory given.
//
// The page loads its fonts and icons from CDNs, which the test machine may not reach: the
// dashboard works without them (its buttons are then blank), and requests to other hosts are
// cut short here so that no wait depends on the network.

import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { WAIT, parseBrowserArgs, runScript, screenshot, withBrowser } from "./lib.mjs";
import { within } from "../harness.mjs";

runScript("browser/admin", 110_000, async () => {
  const { base, shots } = parseBrowserArgs();
  const origin = base.replace(/\/$/, "");
  return withBrowser(shots, async (browser) => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    context.setDefaultTimeout(WAIT);
    await context.route((url) => !url.href.startsWith(origin), (route) => route.abort());
    const page = await context.newPage();
    const log = [];
    page.on("pageerror", (err) => log.push(`pageerror: ${err.message}`));
    const tab = { name: "admin", page, log };
    const response = await page.goto(`${base}admin/`);
    assert.equal(response.status(), 200);

    // The login form, its server URL already this server's.
    const url = page.getByLabel("Server URL");
    await url.waitFor();
    assert.equal(await url.inputValue(), origin);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("secret");
    await page.getByRole("button", { name: "Connect" }).click();
    await waitStore(tab, "connected", (s) => s.connection.connected);

    // The live count: the dashboard alone, then with 3 clients, then with 1.
    const clients = [0, 1, 2].map(() => io(origin, { forceNew: true, reconnection: false, transports: ["websocket"] }));
    await Promise.all(clients.map((c) => within(WAIT, "a client's connect", new Promise((r) => c.once("connect", r)))));
    await waitCount(tab, 4);
    await screenshot(tab, shots, "1-dashboard-4-clients");
    clients[0].close();
    clients[1].close();
    await waitCount(tab, 2);
    await screenshot(tab, shots, "2-dashboard-2-clients");

    // The socket's page, and its disconnect button.
    const target = clients[2];
    await waitStore(tab, "the socket listed", (s, id) => s.main.namespaces.some((n) => n.sockets.some((k) => k.id === id)), target.id);
    await page.evaluate((id) => { location.hash = `#/n/${encodeURIComponent("/")}/sockets/${id}`; }, target.id);
    await page.getByText(target.id).first().waitFor();
    await screenshot(tab, shots, "3-socket-page");
    const targetId = target.id;
    const gone = within(WAIT, "the socket's disconnect", new Promise((r) => target.once("disconnect", r)));
    await page.locator("button:has(.mdi-logout)").last().click();
    const reason = await gone;
    assert.equal(reason, "io server disconnect");
    await waitStore(tab, "the socket gone", (s, id) => !s.main.namespaces.some((n) => n.sockets.some((k) => k.id === id)), targetId);
    await page.evaluate(() => { location.hash = "#/"; });
    await waitCount(tab, 1);
    await screenshot(tab, shots, "4-disconnected");
    assert.deepEqual(log, []);
    return { verified: "the dashboard logs in, counts sockets and disconnects one", shots };
  });
});

/** Waits until `predicate(store state, arg)` holds in the page (the dashboard's Vuex store). */
async function waitStore(tab, what, predicate, arg) {
  try {
    await tab.page.waitForFunction(
      ([source, arg]) => {
        const state = document.querySelector("#app")?.__vue__?.$store?.state;
        return Boolean(state) && new Function("s", "a", `return (${source})(s, a)`)(state, arg);
      },
      [predicate.toString(), arg],
      { timeout: WAIT },
    );
  } catch (err) {
    throw new Error(`${tab.name}: never ${what}\n${tab.log.join("\n")}`, { cause: err });
  }
}

/** Waits until the dashboard's clients card shows `n` clients (websocket + polling). */
async function waitCount(tab, n) {
  try {
    await tab.page.waitForFunction(
      (n) => {
        const card = [...document.querySelectorAll(".v-card")].find((c) => c.querySelector(".v-card__title")?.textContent.trim().startsWith("Clients"));
        const counts = [...(card?.querySelectorAll("h2") ?? [])].map((h) => Number(h.textContent.trim()));
        return counts.length === 2 && counts[0] + counts[1] === n;
      },
      n,
      { timeout: WAIT },
    );
  } catch (err) {
    const seen = await tab.page.evaluate(() => [...document.querySelectorAll(".v-card h2")].map((h) => h.textContent.trim()));
    throw new Error(`${tab.name}: the client count never read ${n} (${JSON.stringify(seen)})\n${tab.log.join("\n")}`, { cause: err });
  }
}
