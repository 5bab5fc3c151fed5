// Minimal chat box for the demo page: posts to Rasa's REST channel and shows the replies.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("chat-config").textContent);
  const list = document.getElementById("messages");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");

  function senderId() {
    let id = localStorage.getItem("embudo-sender");
    if (!id) {
      id = "web-" + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
      localStorage.setItem("embudo-sender", id);
    }
    return id;
  }

  function show(text, who) {
    const item = document.createElement("li");
    item.className = who;
    item.textContent = text; // never innerHTML: visitor and bot text are shown as text
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
    return item;
  }

  function showButtons(buttons) {
    const item = document.createElement("li");
    item.className = "buttons";
    for (const b of buttons) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = b.title;
      button.addEventListener("click", () => { item.remove(); send(b.payload, b.title); });
      item.appendChild(button);
    }
    list.appendChild(item);
  }

  async function send(message, shown) {
    show(shown || message, "user");
    try {
      const response = await fetch(config.rasaUrl + "/webhooks/rest/webhook", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        // The browser's language lets the bot answer in it from the first message.
        body: JSON.stringify({
          sender: senderId(),
          message: message,
          metadata: { locale: navigator.language },
        }),
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      for (const reply of await response.json()) {
        if (reply.text) show(reply.text, "bot");
        if (reply.buttons && reply.buttons.length) showButtons(reply.buttons);
      }
    } catch (error) {
      show("The assistant is not reachable right now (" + error.message + "). Please try again.", "error");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
})();
