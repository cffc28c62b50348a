// The chat page: no framework, only the socket.io-client bundle (global io).
// Whatever another client sends is inserted with textContent, never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const stateEl = $("state");
  const sidEl = $("sid");
  const list = $("messages");
  const text = $("text");
  const roomInput = $("room");
  const currentRoom = $("current-room");
  const errorEl = $("error");
  const transportEl = $("transport");

  // ?transport=polling (or websocket) pins the transport, for tests and
  // for trying a network that blocks websockets.
  const opts = {};
  const transport = new URLSearchParams(location.search).get("transport");
  if (transport === "polling" || transport === "websocket") {
    opts.transports = [transport];
  }
  const socket = io(opts);
  let room = ""; // the room this page is in; "" is everyone

  function setState(state) {
    stateEl.dataset.state = state;
    stateEl.textContent = state;
  }

  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = !message;
  }

  function scrollDown() {
    list.scrollTop = list.scrollHeight;
  }

  function shortId(id) {
    return String(id).slice(0, 8);
  }

  function addMessage(msg) {
    const li = document.createElement("li");
    li.className = "message";
    const mine = msg.from === socket.id;
    if (mine) li.classList.add("mine");
    const from = document.createElement("span");
    from.className = "from";
    from.textContent = (mine ? "you" : shortId(msg.from)) + (msg.room ? " in " + msg.room : "");
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = String(msg.text);
    li.append(from, body);
    list.append(li);
    scrollDown();
  }

  function addNotice(message) {
    const li = document.createElement("li");
    li.className = "notice";
    li.textContent = message;
    list.append(li);
    scrollDown();
  }

  function join(name) {
    socket.timeout(5000).emit("join", name, (err, res) => {
      if (err) return showError("the server did not answer the join");
      if (res && res.error) return showError(res.error);
      room = res.room;
      currentRoom.textContent = room || "everyone";
      currentRoom.dataset.synced = "true";
      showError("");
    });
  }

  function showTransport() {
    transportEl.textContent = socket.io.engine.transport.name;
  }

  socket.on("connect", () => {
    setState("connected");
    sidEl.textContent = socket.id;
    showTransport();
    socket.io.engine.once("upgrade", showTransport);
    // A restarted server forgot the room: join it again.
    if (room && !socket.recovered) join(room);
    else currentRoom.dataset.synced = "true";
  });

  socket.on("disconnect", () => {
    // Until the server has this page in its room again.
    currentRoom.dataset.synced = "false";
    // socket.active: the client reconnects by itself; otherwise the
    // server or this page closed the connection for good.
    setState(socket.active && navigator.onLine ? "reconnecting" : "offline");
  });

  socket.on("connect_error", () => {
    setState(socket.active && navigator.onLine ? "reconnecting" : "offline");
  });

  socket.io.on("reconnect_attempt", () => {
    setState(navigator.onLine ? "reconnecting" : "offline");
  });

  socket.io.on("reconnect_failed", () => setState("offline"));

  window.addEventListener("offline", () => setState("offline"));
  window.addEventListener("online", () => {
    if (socket.connected) setState("connected");
    else setState("reconnecting");
  });

  socket.on("receive_message", (msg) => {
    if (msg && typeof msg === "object" && "text" in msg) addMessage(msg);
  });
  socket.on("joined", (e) => addNotice(shortId(e.id) + " joined " + e.room));
  socket.on("left", (e) => addNotice(shortId(e.id) + " left " + e.room));

  // Enter in the input submits the form.
  $("send-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = text.value;
    if (!value.trim()) return;
    socket.timeout(5000).emit("send_message", { text: value }, (err, res) => {
      if (err) return showError("not sent: the server did not answer");
      if (res && res.error) return showError(res.error);
      showError("");
    });
    text.value = "";
    text.focus();
  });

  $("room-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!roomInput.checkValidity()) return roomInput.reportValidity();
    join(roomInput.value);
  });
})();
