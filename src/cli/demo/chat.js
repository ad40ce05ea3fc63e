// The demo chat's page script, on the official client that /socket.io/socket.io.js defines as
// `io`. Events: see src/cli/demo/chat.rs. `?transports=polling` (a comma-separated list) is
// passed to io() as its `transports`. `window.demo.state` is what the browser test reads.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const remembered = (key) => {
    try { return localStorage.getItem(key) || ""; } catch { return ""; }
  };
  const remember = (key, value) => {
    try { localStorage.setItem(key, value); } catch { /* private mode: not kept */ }
  };

  const state = {
    nick: remembered("tpcio-nick"),
    room: remembered("tpcio-room"),
    users: null,
    // The server's count comes from several shards at once: the newest generation wins.
    generation: -1,
    // Every transport used, in order: ["polling", "websocket"] after an upgrade.
    transports: [],
    // Failed upgrade probes (WebSocket unavailable or refused): the page keeps polling.
    upgradeErrors: [],
    typing: new Map(),
  };
  const options = { auth: (send) => send({ nick: state.nick, room: state.room }) };
  const forced = new URLSearchParams(location.search).get("transports");
  if (forced) options.transports = forced.split(",").map((t) => t.trim()).filter(Boolean);
  const socket = io(options);
  window.demo = { socket, state };

  // --- transport -------------------------------------------------------------------------
  const showTransport = (name) => {
    state.transports.push(name);
    $("transport").textContent = name;
  };
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    showTransport(engine.transport.name);
    engine.on("upgrade", (transport) => showTransport(transport.name));
    engine.on("upgradeError", (err) => state.upgradeErrors.push(String(err && err.message)));
  });

  // --- connection --------------------------------------------------------------------------
  const setStatus = (status) => {
    $("status").textContent = status;
    for (const id of ["message", "send"]) $(id).disabled = status !== "connected";
  };
  socket.on("connect", () => setStatus("connected"));
  socket.on("connect_error", (err) => setStatus(`error: ${err.message}`));
  socket.on("disconnect", (reason) => {
    setStatus(`disconnected (${reason})`);
    // A restarted server counts from zero again.
    state.generation = -1;
    clearTyping();
  });

  socket.on("welcome", ({ nick, room }) => {
    showNick(nick);
    showRoom(room);
    notice(`Connected as ${nick} in #${room}`);
  });
  socket.on("users", ({ count, generation }) => {
    if (generation <= state.generation) return;
    state.generation = generation;
    state.users = count;
    $("users").textContent = String(count);
  });

  // --- nick and room -------------------------------------------------------------------------
  const showNick = (nick) => {
    state.nick = nick;
    remember("tpcio-nick", nick);
    $("me").textContent = nick;
  };
  const showRoom = (room) => {
    state.room = room;
    remember("tpcio-room", room);
    $("room-name").textContent = room;
    clearTyping();
  };
  $("nick-form").addEventListener("submit", (e) => {
    e.preventDefault();
    socket.emit("set nick", $("nick").value, showNick);
  });
  $("room-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const before = state.room;
    socket.emit("join", $("room").value, (room) => {
      showRoom(room);
      if (room !== before) notice(`You joined #${room}`);
    });
  });

  // --- messages ----------------------------------------------------------------------------
  const append = (li) => {
    const list = $("messages");
    list.append(li);
    list.scrollTop = list.scrollHeight;
  };
  const notice = (text) => {
    const li = document.createElement("li");
    li.className = "notice";
    li.textContent = text;
    append(li);
  };
  const message = ({ nick, text, room }, mine) => {
    const li = document.createElement("li");
    li.className = mine ? "message mine" : "message";
    li.dataset.nick = nick;
    li.dataset.room = room;
    const who = document.createElement("span");
    who.className = "nick";
    who.textContent = nick;
    const what = document.createElement("span");
    what.className = "text";
    what.textContent = text;
    li.append(who, what);
    append(li);
  };
  socket.on("notice", notice);
  socket.on("chat message", (msg) => {
    state.typing.delete(msg.nick);
    renderTyping();
    message(msg, false);
  });
  $("send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("message").value.trim();
    if (!text) return;
    $("message").value = "";
    stopTyping();
    // The server answers with the message as the room got it.
    socket.emit("chat message", text, (msg) => message(msg, true));
  });

  // --- typing ------------------------------------------------------------------------------
  let typing = false;
  let idle;
  const stopTyping = () => {
    clearTimeout(idle);
    if (typing) socket.emit("stop typing", "");
    typing = false;
  };
  $("message").addEventListener("input", () => {
    if (!typing && $("message").value) socket.emit("typing", "");
    typing = typing || Boolean($("message").value);
    clearTimeout(idle);
    idle = setTimeout(stopTyping, 3000);
  });
  const renderTyping = () => {
    const nicks = [...state.typing.keys()];
    $("typing").textContent =
      nicks.length === 0 ? "" :
      nicks.length === 1 ? `${nicks[0]} is typing…` :
      nicks.length === 2 ? `${nicks[0]} and ${nicks[1]} are typing…` :
      `${nicks.length} people are typing…`;
  };
  function clearTyping() {
    for (const timer of state.typing.values()) clearTimeout(timer);
    state.typing.clear();
    renderTyping();
  }
  socket.on("typing", ({ nick }) => {
    clearTimeout(state.typing.get(nick));
    // A lost `stop typing` (it is volatile) must not leave the notice up for ever.
    state.typing.set(nick, setTimeout(() => {
      state.typing.delete(nick);
      renderTyping();
    }, 5000));
    renderTyping();
  });
  socket.on("stop typing", ({ nick }) => {
    clearTimeout(state.typing.get(nick));
    state.typing.delete(nick);
    renderTyping();
  });
})();
