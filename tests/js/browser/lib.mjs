// Shared plumbing of the browser scenarios that tests/browser.rs runs against the demo chat
// (src/cli/demo/): Debian's chromium driven by playwright-core, one fresh browser context
// (own profile state, own connections) per tab, and helpers that each wait for something the
// page shows, with a timeout — never a fixed sleep.
//
// Contract with the Rust side, as in ../harness.mjs: argv is `<port> 4 <screenshot dir>`; the
// script ends with ONE JSON line, `{"ok":true,"verified":"..."}` (exit 0) or
// `{"ok":false,"error":"..."}` (exit 1).

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

export { runScript } from "../harness.mjs";

/** The browser tests/common/browser.rs checks for; playwright's own downloads are never used. */
export const CHROMIUM = "/usr/bin/chromium";
/** The longest any single wait may take. */
export const WAIT = 15_000;

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** `{ base, shots }` from `<port> 4 <screenshot dir>`. */
export function parseBrowserArgs() {
  const [portArg, , shots] = process.argv.slice(2);
  const port = Number(portArg);
  if (!Number.isInteger(port) || port <= 0 || !shots) {
    throw new Error(`usage: node ${process.argv[1]} <port> 4 <screenshot dir>; got ${process.argv.slice(2)}`);
  }
  return { base: `http://127.0.0.1:${port}/`, shots };
}

/**
 * How long chromium may take to start: a cold start, with the other browser test's chromium
 * starting beside it on a loaded 2-CPU machine, has taken more than 15 s here.
 */
const LAUNCH_WAIT = 60_000;

/** Launches chromium (playwright gives it a fresh temporary profile), with `extra` flags. */
export async function launch(extra = []) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...ARGS, ...extra], timeout: LAUNCH_WAIT });
}

/**
 * A tab in a context of its own, with the page loaded and connected. `setup(context)` runs
 * before the page opens (init scripts, routes). The tab's console errors and page errors are
 * kept for the failure message.
 */
export async function openTab(browser, name, url, setup = async () => {}) {
  const context = await browser.newContext({ viewport: { width: 900, height: 600 } });
  context.setDefaultTimeout(WAIT);
  await setup(context);
  const page = await context.newPage();
  const tab = { name, context, page, log: [] };
  page.on("console", (msg) => {
    if (msg.type() === "error") tab.log.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on("pageerror", (err) => tab.log.push(`pageerror: ${err.message}`));
  const response = await page.goto(url);
  assert.equal(response && response.status(), 200, `${name}: GET ${url}`);
  await waitText(tab, "#status", "connected");
  return tab;
}

/** Waits until `selector`'s text is exactly `text`. */
export async function waitText(tab, selector, text) {
  try {
    await tab.page.waitForFunction(
      ([sel, want]) => document.querySelector(sel)?.textContent === want,
      [selector, text],
      { timeout: WAIT },
    );
  } catch (err) {
    const seen = await tab.page.textContent(selector).catch(() => "?");
    throw new Error(`${tab.name}: ${selector} never read ${JSON.stringify(text)} (it reads ${JSON.stringify(seen)})\n${tab.log.join("\n")}`, { cause: err });
  }
}

/** Waits until `predicate(window.demo.state)` (a function sent to the page) holds. */
export async function waitState(tab, what, predicate) {
  try {
    await tab.page.waitForFunction(`(${predicate})(window.demo.state)`, null, { timeout: WAIT });
  } catch (err) {
    throw new Error(`${tab.name}: never ${what}; state ${JSON.stringify(await state(tab))}\n${tab.log.join("\n")}`, { cause: err });
  }
}

/** The page's state: nick, room, users, transports, upgradeErrors. */
export async function state(tab) {
  return tab.page.evaluate(() => {
    const { typing, ...rest } = window.demo.state;
    return { ...rest, typing: [...typing.keys()] };
  });
}

/** The shard that owns the tab's Engine.IO session: the sid's first byte modulo 2. */
export async function shardOf(tab) {
  const sid = await tab.page.evaluate(() => window.demo.socket.io.engine.id);
  return Buffer.from(sid.slice(0, 4), "base64url")[0] % 2;
}

export async function setNick(tab, nick) {
  await tab.page.fill("#nick", nick);
  await tab.page.click("#nick-save");
  await waitText(tab, "#me", nick);
}

export async function joinRoom(tab, room) {
  await tab.page.fill("#room", room);
  await tab.page.click("#room-join");
  await waitText(tab, "#room-name", room);
}

/** Types `text` key by key (as a user would, so the typing notice goes out), without sending. */
export async function type(tab, text) {
  await tab.page.locator("#message").pressSequentially(text);
}

/** Sends what is typed (Enter) and waits for the server's ack to show it as the tab's own. */
export async function send(tab, text) {
  if (text !== undefined) await type(tab, text);
  const sent = await tab.page.inputValue("#message");
  await tab.page.press("#message", "Enter");
  await waitMessage(tab, sent, { mine: true });
}

/** The chat messages shown (not the notices), as `{nick, text, room, mine}`. */
export async function messages(tab) {
  return tab.page.$$eval("#messages li.message", (items) =>
    items.map((li) => ({
      nick: li.dataset.nick,
      room: li.dataset.room,
      text: li.querySelector(".text")?.textContent,
      mine: li.classList.contains("mine"),
    })),
  );
}

/** The notices shown, in order. */
export async function notices(tab) {
  return tab.page.$$eval("#messages li.notice", (items) => items.map((li) => li.textContent));
}

/** Waits until a message with `text` is shown (from anyone, or the tab's own with `mine`). */
export async function waitMessage(tab, text, { mine = false, nick } = {}) {
  try {
    await tab.page.waitForFunction(
      ([want, mine, nick]) =>
        [...document.querySelectorAll("#messages li.message")].some(
          (li) =>
            li.querySelector(".text")?.textContent === want &&
            li.classList.contains("mine") === mine &&
            (nick === undefined || li.dataset.nick === nick),
        ),
      [text, mine, nick],
      { timeout: WAIT },
    );
  } catch (err) {
    throw new Error(`${tab.name}: message ${JSON.stringify(text)} never shown; messages ${JSON.stringify(await messages(tab))}\n${tab.log.join("\n")}`, { cause: err });
  }
}

/** Waits until the notice `text` is shown `count` times. */
export async function waitNotice(tab, text, count = 1) {
  try {
    await tab.page.waitForFunction(
      ([want, count]) =>
        [...document.querySelectorAll("#messages li.notice")].filter((li) => li.textContent === want).length >= count,
      [text, count],
      { timeout: WAIT },
    );
  } catch (err) {
    throw new Error(`${tab.name}: notice ${JSON.stringify(text)} never shown ${count}×; notices ${JSON.stringify(await notices(tab))}`, { cause: err });
  }
}

/** Saves a full-page screenshot `<dir>/<name>.png`; returns its path. */
export async function screenshot(tab, dir, name) {
  const path = join(dir, `${name}.png`);
  await tab.page.screenshot({ path, fullPage: true });
  return path;
}

/** Runs `body(browser)`; on failure saves every open tab as `failure-<n>.png` first. */
export async function withBrowser(shots, body, extra = []) {
  const browser = await launch(extra);
  try {
    return await body(browser);
  } catch (err) {
    let n = 0;
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        await page.screenshot({ path: join(shots, `failure-${n++}.png`) }).catch(() => {});
      }
    }
    throw err;
  } finally {
    await browser.close().catch(() => {});
  }
}
