// Two tabs of the demo chat (separate browser contexts) on the 2-shard server: each connects
// over polling then upgrades to WebSocket; their sessions are made to live on different shards;
// typing notices and messages cross between them; a message sent in one room is not shown in
// another; the user count reads 2 on both. Screenshots go to the directory given.

import assert from "node:assert/strict";
import {
  joinRoom, messages, openTab, parseBrowserArgs, runScript, screenshot, send, setNick, shardOf,
  state, type, waitMessage, waitNotice, waitText, withBrowser,
} from "./lib.mjs";

/** At most this many fresh tabs to get a session on the other shard (each misses with p = 1/2). */
const SHARD_TRIES = 12;

/** A connected tab that has upgraded to WebSocket, after a polling start. */
async function upgradedTab(browser, name, url) {
  const tab = await openTab(browser, name, url);
  await waitText(tab, "#transport", "websocket");
  assert.deepEqual((await state(tab)).transports, ["polling", "websocket"], `${name}: transports used`);
  return tab;
}

runScript("browser/chat", 110_000, async () => {
  const { base, shots } = parseBrowserArgs();
  return withBrowser(shots, async (browser) => {
    const alice = await upgradedTab(browser, "alice", base);
    // Cross-shard delivery is the point: retry bob's tab until it lands on the other shard.
    let bob;
    let tries = 0;
    for (;;) {
      tries += 1;
      bob = await upgradedTab(browser, "bob", base);
      if ((await shardOf(bob)) !== (await shardOf(alice)) || tries === SHARD_TRIES) break;
      // Closing the context closes its WebSocket: the server drops the session at once.
      await bob.context.close();
    }
    const shards = [await shardOf(alice), await shardOf(bob)];
    assert.notEqual(shards[0], shards[1], `bob stayed on alice's shard after ${tries} tabs`);

    await setNick(alice, "alice");
    await setNick(bob, "bob");
    await waitText(alice, "#users", "2");
    await waitText(bob, "#users", "2");
    await waitText(alice, "#room-name", "lobby");
    await waitText(bob, "#room-name", "lobby");

    // Typing shows on the other tab, and goes away when the message is sent.
    await type(bob, "hello alice, from bob");
    await waitText(alice, "#typing", "bob is typing…");
    await screenshot(alice, shots, "1-alice-sees-bob-typing");
    await send(bob);
    await waitMessage(alice, "hello alice, from bob", { nick: "bob" });
    await waitText(alice, "#typing", "");
    await send(alice, "hi bob 👋 <b>not bold</b>");
    await waitMessage(bob, "hi bob 👋 <b>not bold</b>", { nick: "alice" });
    await screenshot(alice, shots, "2-alice-lobby");
    await screenshot(bob, shots, "2-bob-lobby");

    // A message in #rust does not reach bob in #lobby. Alice's return to #lobby is announced
    // to bob from her shard after her #rust message: once bob has the notice, a misdelivered
    // message would already be there.
    await joinRoom(alice, "rust");
    await waitNotice(bob, "alice left");
    await send(alice, "only for #rust");
    await joinRoom(alice, "lobby");
    await waitNotice(bob, "alice joined");
    const leaked = (await messages(bob)).filter((m) => m.text === "only for #rust");
    assert.deepEqual(leaked, [], "bob, in #lobby, got a #rust message");

    // Both in #rust: messages reach the room.
    await joinRoom(bob, "rust");
    await joinRoom(alice, "rust");
    await waitNotice(bob, "alice joined", 2);
    await send(alice, "welcome to #rust, bob");
    await waitMessage(bob, "welcome to #rust, bob", { nick: "alice" });
    assert.equal((await messages(bob)).at(-1).room, "rust");
    await waitText(bob, "#users", "2");
    await screenshot(alice, shots, "3-alice-rust");
    await screenshot(bob, shots, "3-bob-rust");

    for (const tab of [alice, bob]) assert.deepEqual(tab.log, [], `${tab.name}: console errors`);
    return { verified: "two tabs chat across shards and rooms over websocket", shards, tabs_opened: tries + 1, shots };
  });
});
