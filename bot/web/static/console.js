// Embudo console: the few things plain HTML forms cannot do. The pages work without it.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Filter forms send only the fields that are set, so the URL of a view stays short enough to read and share.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !("dropEmpty" in form.dataset) || event.defaultPrevented) return;
  for (const field of form.elements) {
    if ((field instanceof HTMLInputElement || field instanceof HTMLSelectElement) && field.name && !field.value) {
      field.disabled = true;
    }
  }
  window.setTimeout(() => { for (const field of form.elements) field.disabled = false; }, 0);  // back button
});

// The live conversation view: new lines and ownership changes arrive as server-sent events.
const live = document.querySelector("[data-live-events]");
if (live && window.EventSource) {
  const log = live.querySelector("[data-live-log]");
  const owner = live.querySelector("[data-live-owner]");
  const seen = new Set();
  const source = new EventSource(live.dataset.liveEvents);
  source.addEventListener("message", (event) => {
    const line = JSON.parse(event.data);
    if (seen.has(line.id)) return;
    seen.add(line.id);
    const item = document.createElement("li");
    item.className = "message from-" + line.author;
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = line.text;  // visitor text is data, never markup
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = line.author + (line.rep_name ? " " + line.rep_name : "") + " · " + new Date(line.sent_at).toLocaleTimeString();
    item.append(bubble, meta);
    log.append(item);
    item.scrollIntoView({ block: "nearest" });
  });
  const send = live.querySelector("[data-live-send]");
  if (send) {
    send.addEventListener("submit", async (event) => {
      event.preventDefault();  // stay on the page: the line comes back through the stream
      const outcome = send.querySelector("[data-live-outcome]");
      const answer = await fetch(send.action, {
        method: "POST", body: new FormData(send), headers: { Accept: "application/json" },
      });
      const body = await answer.json();
      outcome.textContent = answer.ok ? "" : body.detail;
      if (answer.ok) send.querySelector("textarea").value = "";
    });
    // While the rep types, the visitor's widget says "NAME is writing…" (one notice every 3 s at most).
    let lastTyping = 0;
    send.querySelector("textarea").addEventListener("input", () => {
      if (Date.now() - lastTyping < 3000) return;
      lastTyping = Date.now();
      fetch(send.action.replace(/\/messages$/, "/typing"), {
        method: "POST", body: new FormData(send), headers: { Accept: "application/json" },
      }).catch(() => {});  // only a courtesy: a lost notice changes nothing
    });
  }
  let firstOwner = true;
  source.addEventListener("owner", (event) => {
    if (firstOwner) { firstOwner = false; return; }  // the page was rendered with this owner
    const state = JSON.parse(event.data);
    owner.textContent = state.owner === "rep" ? (state.rep_name + " is answering this conversation.")
      : state.owner === "waiting" ? "The visitor is waiting for a person." : "The bot is answering this conversation.";
  });
}
