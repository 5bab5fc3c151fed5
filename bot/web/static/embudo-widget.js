/*
 * Embudo chat widget: one <script> tag puts a chat launcher on any page.
 *
 *   <script src="https://YOUR-EMBUDO:8000/static/embudo-widget.js"
 *           data-rasa-url="https://YOUR-RASA:5005" data-privacy-url="https://YOUR-SITE/privacy" async></script>
 *
 * It speaks Rasa's socket.io channel (session_request / session_confirm, user_uttered / bot_uttered) over a
 * plain WebSocket with the Engine.IO 4 / Socket.IO 5 framing, so no client library is loaded. The session id
 * and the visible history live in localStorage: a reload continues the same conversation on the server.
 */
(function () {
  "use strict";
  if (window.EmbudoWidget) return;

  var script = document.currentScript || document.querySelector("script[data-rasa-url]");
  var config = {
    rasaUrl: (script && script.getAttribute("data-rasa-url")) || "http://localhost:5005",
    privacyUrl: (script && script.getAttribute("data-privacy-url")) || "/privacy",
    title: (script && script.getAttribute("data-title")) || "Chat with us",
  };
  var STORE = "embudo-widget:" + config.rasaUrl;
  var locale = navigator.language || "en";
  var spanish = /^es\b/i.test(locale);
  var T = spanish
    ? { open: "Abrir el chat", close: "Cerrar el chat", send: "Enviar", placeholder: "Escribe un mensaje…",
        label: "Tu mensaje", typing: "El asistente está escribiendo…", consent: "Al chatear aceptas nuestra ",
        privacy: "política de privacidad", offline: "Conectando…", person: "persona del equipo",
        waiting: "Esperando a una persona del equipo. Puedes seguir escribiendo: leerá tus mensajes.",
        answering: function (name) { return "Te atiende " + name + ", una persona del equipo."; },
        writing: function (name) { return name + " está escribiendo…"; },
        bot: "Te atiende de nuevo el asistente.", logLabel: "Mensajes del chat" }
    : { open: "Open chat", close: "Close chat", send: "Send", placeholder: "Type a message…",
        label: "Your message", typing: "The assistant is typing…", consent: "By chatting you agree to our ",
        privacy: "privacy policy", offline: "Connecting…", person: "a person from our team",
        waiting: "Waiting for a person from our team. You can keep writing: they will read your messages.",
        answering: function (name) { return name + ", a person from our team, is answering you."; },
        writing: function (name) { return name + " is writing…"; },
        bot: "The assistant is answering you again.", logLabel: "Chat messages" };

  // ---- state kept across reloads ---------------------------------------------------------------
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; }
  }
  var state = load();
  state.history = state.history || [];
  function save() {
    try { localStorage.setItem(STORE, JSON.stringify({ sessionId: state.sessionId, history: state.history.slice(-200), open: state.open, owner: state.owner })); } catch (e) { /* storage full or blocked */ }
  }
  if (!state.sessionId) {
    state.sessionId = (window.crypto && crypto.randomUUID) ? crypto.randomUUID().replace(/-/g, "") : String(Date.now()) + String(Math.random()).slice(2);
    save();
  }

  function metadata() {
    var params = new URLSearchParams(location.search);
    var utm = {};
    ["source", "medium", "campaign", "term", "content"].forEach(function (k) {
      var v = params.get("utm_" + k);
      if (v) utm[k] = v;
    });
    var timezone = null;
    try { timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { timezone = null; }
    // The time zone makes "by the end of the month" the visitor's month end, not the server's.
    return { channel: "website", page_url: location.href, referrer: document.referrer || null, utm: utm, locale: locale, timezone: timezone };
  }

  // ---- the DOM -------------------------------------------------------------------------------------
  var css = [
    ".ew-launch{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;background:#2457d6;color:#fff;font:600 15px system-ui,sans-serif;box-shadow:0 2px 10px rgba(0,0,0,.25);cursor:pointer}",
    ".ew-launch:focus-visible,.ew-panel button:focus-visible,.ew-panel input:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".ew-panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:360px;max-width:calc(100vw - 24px);height:520px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;color:#1d1f23;border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.25);font:15px/1.4 system-ui,sans-serif}",
    ".ew-panel[hidden]{display:none}",
    ".ew-head{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:#2457d6;color:#fff;border-radius:12px 12px 0 0}",
    ".ew-head h2{font-size:16px;margin:0}",
    ".ew-head button{background:none;border:0;color:#fff;font-size:22px;cursor:pointer;line-height:1}",
    ".ew-log{flex:1;overflow-y:auto;margin:0;padding:12px;list-style:none;display:flex;flex-direction:column;gap:8px}",
    ".ew-msg{max-width:85%;padding:8px 12px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}",
    ".ew-bot,.ew-rep{background:#eef1f6;align-self:flex-start}.ew-rep{border-left:3px solid #1d7a46}",
    ".ew-name{display:block;font-size:12px;font-weight:600;color:#1d5a36}",
    ".ew-user{background:#2457d6;color:#fff;align-self:flex-end}",
    ".ew-replies{display:flex;flex-wrap:wrap;gap:6px;align-self:flex-start}",
    ".ew-replies button{border:1px solid #2457d6;background:#fff;color:#2457d6;border-radius:16px;padding:5px 12px;cursor:pointer;font:inherit}",
    ".ew-typing{padding:0 14px 6px;color:#5b6270;font-size:13px;min-height:18px}",
    ".ew-status{margin:0;padding:6px 14px;background:#e8f3ec;color:#1d5a36;font-size:13px;border-bottom:1px solid #c9e2d3}.ew-status:empty{padding:0;border:0}",  // kept in the page (empty) so that screen readers hear changes
    ".ew-log:focus-visible{outline:3px solid #ffbf47;outline-offset:-3px}",
    ".ew-form{display:flex;gap:6px;padding:8px;border-top:1px solid #e3e6ea}",
    ".ew-form input{flex:1;padding:8px;font:inherit;border:1px solid #c5cad3;border-radius:6px;min-width:0}",
    ".ew-form button{padding:8px 12px;font:inherit;border:0;border-radius:6px;background:#2457d6;color:#fff;cursor:pointer}",
    ".ew-consent{margin:0;padding:0 10px 8px;font-size:12px;color:#5b6270}.ew-consent a{color:#2457d6}",
    ".ew-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.ew-panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100vh;max-height:100vh;border-radius:0}.ew-head{border-radius:0}}",
  ].join("\n");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text; // never innerHTML: everything shown is text
    return node;
  }

  var style = el("style"); style.textContent = css; document.head.appendChild(style);
  var launcher = el("button", { type: "button", class: "ew-launch", "aria-controls": "ew-panel", "aria-expanded": "false" }, config.title);
  var panel = el("section", { id: "ew-panel", class: "ew-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "ew-title", hidden: "" });
  var head = el("div", { class: "ew-head" });
  var title = el("h2", { id: "ew-title" }, config.title);
  var close = el("button", { type: "button", "aria-label": T.close }, "×");
  head.appendChild(title); head.appendChild(close);
  // Who is answering (the bot, nobody yet, a person): a status line that screen readers announce.
  var status = el("p", { class: "ew-status", role: "status", "aria-live": "polite" });
  // The log is focusable so that the keyboard can scroll it (arrow keys, Page Up / Down).
  var log = el("div", { class: "ew-log", role: "log", "aria-live": "polite", "aria-label": T.logLabel, tabindex: "0" });
  var typing = el("div", { class: "ew-typing", "aria-live": "polite" });
  var form = el("form", { class: "ew-form" });
  var label = el("label", { for: "ew-input", class: "ew-sr" }, T.label);
  var input = el("input", { id: "ew-input", name: "message", autocomplete: "off", placeholder: T.placeholder, maxlength: "1000" });
  var send = el("button", { type: "submit" }, T.send);
  form.appendChild(label); form.appendChild(input); form.appendChild(send);
  var consent = el("p", { class: "ew-consent" }, T.consent);
  var privacy = el("a", { href: config.privacyUrl, target: "_blank", rel: "noopener" }, T.privacy);
  consent.appendChild(privacy); consent.appendChild(document.createTextNode("."));
  panel.appendChild(head); panel.appendChild(status); panel.appendChild(log); panel.appendChild(typing); panel.appendChild(form); panel.appendChild(consent);
  document.body.appendChild(launcher); document.body.appendChild(panel);

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function showMessage(who, text, name) {
    var item = el("div", { class: "ew-msg ew-" + who });
    if (name) item.appendChild(el("span", { class: "ew-name" }, name + " (" + T.person + ")"));  // a person, not the bot
    item.appendChild(document.createTextNode(text));
    log.appendChild(item);
    scrollDown();
  }

  function showReplies(replies) {
    var item = el("div", { class: "ew-replies" });
    replies.forEach(function (reply) {
      var button = el("button", { type: "button" }, reply.title);
      button.addEventListener("click", function () {
        item.remove();
        state.history.forEach(function (h) { if (h.replies === replies) h.replies = []; });
        userSays(reply.payload, reply.title);
        input.focus();
      });
      item.appendChild(button);
    });
    log.appendChild(item);
    scrollDown();
  }

  function render(entry) {
    if (entry.text) showMessage(entry.who, entry.text, entry.name);
    if (entry.replies && entry.replies.length) showReplies(entry.replies);
  }
  state.history.forEach(render);

  // ---- who is answering ----------------------------------------------------------------------------
  // state.owner: undefined (the bot, as always), "waiting" (a person was offered or asked for: a turn failed,
  // or the bot says a person will join), "bot" (the bot again, after a person), or { rep: NAME }.
  function ownerText(owner) {
    if (owner === "waiting") return T.waiting;
    if (owner === "bot") return T.bot;
    return owner && owner.rep ? T.answering(owner.rep) : "";
  }
  function setOwner(owner) {
    if (JSON.stringify(owner) === JSON.stringify(state.owner)) return;  // announce changes only
    state.owner = owner; save();
    status.textContent = ownerText(owner);
  }
  status.textContent = ownerText(state.owner);
  function personAnswers() { return !!(state.owner && state.owner.rep); }

  function setOpen(open) {
    state.open = open;
    save();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? T.close : T.open);
    if (open) { scrollDown(); input.focus(); connect(); } else { launcher.focus(); }
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  close.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });

  // ---- Socket.IO over a WebSocket ----------------------------------------------------------------
  var socket = null, ready = false, outbox = [], retryDelay = 500, typingTimer = null;

  function emit(event, data) {
    var frame = "42" + JSON.stringify([event, data]);
    if (ready) socket.send(frame); else outbox.push(frame);
  }

  function connect() {
    if (socket) return;
    var url = config.rasaUrl.replace(/^http/, "ws").replace(/\/$/, "") + "/socket.io/?EIO=4&transport=websocket";
    typing.textContent = T.offline;
    socket = new WebSocket(url);
    socket.onmessage = function (event) {
      var data = String(event.data);
      if (data === "2") { socket.send("3"); return; }               // ping → pong
      if (data.charAt(0) === "0") { socket.send("40"); return; }    // engine open → join namespace
      if (data.slice(0, 2) === "40") {                                // namespace joined
        retryDelay = 500;
        socket.send("42" + JSON.stringify(["session_request", { session_id: state.sessionId }]));
        return;
      }
      if (data.slice(0, 2) !== "42") return;
      var packet = JSON.parse(data.slice(2));
      if (packet[0] === "session_confirm") {
        ready = true;
        typing.textContent = "";
        if (typeof packet[1] === "string" && packet[1] && packet[1] !== state.sessionId) {
          // the server started a new conversation (the old id belonged to another channel): write into that one
          state.sessionId = packet[1];
          if (window.EmbudoWidget) window.EmbudoWidget.sessionId = packet[1];
          save();
        }
        outbox.splice(0).forEach(function (frame) {
          var queued = JSON.parse(frame.slice(2));
          if (queued[1] && queued[1].session_id) queued[1].session_id = state.sessionId;
          socket.send("42" + JSON.stringify(queued));
        });
      } else if (packet[0] === "bot_uttered") {
        botSays(packet[1] || {});
      } else if (packet[0] === "embudo_person_typing") {  // rasa_channels/failsafe.py: a person is writing
        personWrites(String((packet[1] || {}).rep_name || T.person));
      }
    };
    socket.onclose = function () {
      socket = null; ready = false;
      setTimeout(function () { if (state.open || outbox.length) connect(); }, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    };
  }

  function botSays(message) {
    clearTimeout(typingTimer);
    typing.textContent = "";
    var replies = (message.quick_replies || message.buttons || []).map(function (b) { return { title: b.title, payload: b.payload }; });
    var meta = message.metadata || {};
    var entry = meta.author === "rep"  // a rep who took the conversation over (bot/live_chat.py)
      ? { who: "rep", name: String(meta.rep_name || ""), text: message.text || "", replies: [] }
      : { who: "bot", text: message.text || "", replies: replies };
    if (entry.who === "rep") setOwner({ rep: entry.name });
    else if (meta.embudo === "failed_turn" || meta.embudo === "waiting") setOwner("waiting");  // rasa_channels/failsafe.py
    else if (personAnswers()) setOwner("bot");  // the person handed the conversation back
    state.history.push(entry); save();
    render(entry);
  }

  function personWrites(name) {
    setOwner({ rep: name });
    typing.textContent = T.writing(name);  // the typing line is a polite live region: it is announced
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typing.textContent = ""; }, 6000);
  }

  function userSays(payload, shown) {
    var text = (shown || payload || "").trim();
    if (!text || !String(payload).trim()) return;            // empty input is never sent
    var entry = { who: "user", text: text };
    state.history.push(entry); save();
    render(entry);
    typing.textContent = personAnswers() ? "" : T.typing;  // a person answers in their own time
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typing.textContent = ""; }, 15000);
    connect();
    emit("user_uttered", { message: payload, session_id: state.sessionId, customData: metadata() });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    userSays(text.trim());
  });

  if (state.open) setOpen(true);
  window.EmbudoWidget = { open: function () { setOpen(true); }, close: function () { setOpen(false); }, sessionId: state.sessionId };
})();
