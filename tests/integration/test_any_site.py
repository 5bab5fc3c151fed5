"""A page of another origin (a customer's site) opens the chat: our widget, and a standard socket.io
client's exchange, in headless Chromium, which enforces CORS; the widget passes axe-core (WCAG 2.1 AA).
With ``EMBUDO_WIDGET_ORIGINS`` naming origins, every other origin is refused, WebSocket included."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.accessibility import serious_violations
from tests.browser import headless_chromium
from tests.harness import Stack, running_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("any-site-stack"), env={"EMBUDO_ALLOWED_ORIGINS": "*"}
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def shop(stack: Stack) -> Iterator[str]:
    """A customer's page on its own origin (``localhost`` and another port), with the one-tag install."""
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Lakeshore Cycles</title></head>'
        "<body><main><h1>Lakeshore Cycles</h1><p>Bikes and repairs.</p></main>"
        f'<script src="{stack.web_url}/static/embudo-widget.js" data-rasa-url="{stack.rasa_url}" async>'
        "</script></body></html>"
    ).encode()

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()


def open_page(browser: Browser, url: str) -> tuple[Page, list[str]]:
    page = browser.new_context(locale="en-GB").new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(url)
    return page, errors


def test_the_widget_chats_from_a_page_of_another_origin_and_is_accessible(
    stack: Stack, browser: Browser, shop: str
) -> None:
    page, errors = open_page(browser, shop)
    assert page.evaluate("location.origin") != stack.rasa_url
    page.get_by_role("button", name="Chat with us").click()
    page.fill("#ew-input", "hello!")
    page.press("#ew-input", "Enter")
    expect(page.locator(".ew-log .ew-bot").last).to_contain_text("What are you looking for", timeout=20_000)
    assert serious_violations(page) == []

    # The message log is reachable from the keyboard (it scrolls), right after the close button.
    page.get_by_role("dialog").get_by_role("button", name="Close chat").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("log", name="Chat messages")).to_be_focused()
    assert errors == []


# The Engine.IO 4 long-polling handshake a standard socket.io client (rasa-webchat's) starts with, then the
# Rasa socket.io events, made with fetch from the page: the browser refuses any answer without CORS consent.
STANDARD_CLIENT = """async (rasaUrl) => {
  const base = rasaUrl + "/socket.io/?EIO=4&transport=polling";
  const get = async (sid) => (await fetch(base + (sid ? "&sid=" + sid : ""))).text();
  const post = (sid, body) => fetch(base + "&sid=" + sid, { method: "POST", body: body });
  const sid = JSON.parse((await get()).slice(1)).sid;
  const seen = [];
  async function until(wanted) {
    for (let i = 0; i < 20; i++) {
      for (const packet of (await get(sid)).split("\\x1e")) {
        if (packet === "2") await post(sid, "3");  // ping → pong
        seen.push(packet);
      }
      const hit = seen.find(wanted);
      if (hit) return hit;
    }
    return null;
  }
  await post(sid, "40");
  await until((p) => p.startsWith("40"));
  const session = "standard-client-" + Date.now();
  await post(sid, "42" + JSON.stringify(["session_request", { session_id: session }]));
  const confirmed = await until((p) => p.includes("session_confirm"));
  await post(sid, "42" + JSON.stringify(["user_uttered", { message: "hello!", session_id: session }]));
  const reply = await until((p) => p.includes("bot_uttered"));
  return { confirmed: confirmed, reply: reply && JSON.parse(reply.slice(2)) };
}"""


def test_a_standard_socketio_client_exchange_from_a_page_of_another_origin(
    stack: Stack, browser: Browser, shop: str
) -> None:
    page, errors = open_page(browser, shop)
    answer = page.evaluate(STANDARD_CLIENT, stack.rasa_url)
    assert answer["confirmed"] and "session_confirm" in answer["confirmed"]
    event, message = answer["reply"]
    assert event == "bot_uttered" and message["text"].startswith("Hi!")
    assert errors == []


def socketio_exchange(rasa_url: str, origin: str, session: str) -> list[Any]:
    """Rasa's socket.io events over a WebSocket with the Engine.IO 4 framing, as a standard client sends
    them, from a page of ``origin``; returns the first ``bot_uttered`` event."""
    url = rasa_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    with connect(url, origin=origin, open_timeout=20) as socket:
        assert str(socket.recv(timeout=20)).startswith("0")  # Engine.IO open
        socket.send("40")
        frames = [str(socket.recv(timeout=20))]
        socket.send("42" + json.dumps(["session_request", {"session_id": session}]))
        socket.send("42" + json.dumps(["user_uttered", {"message": "hello!", "session_id": session}]))
        while not frames[-1].startswith('42["bot_uttered"'):
            frames.append(str(socket.recv(timeout=30)))
            if frames[-1] == "2":
                socket.send("3")
    assert frames[0].startswith("40") and any("session_confirm" in frame for frame in frames)
    event: list[Any] = json.loads(frames[-1][2:])
    return event


def test_a_socketio_client_from_any_origin_chats_by_default(stack: Stack) -> None:
    event, message = socketio_exchange(stack.rasa_url, "https://shop.example", "origin-default")
    assert event == "bot_uttered" and message["text"].startswith("Hi!")


def test_rasas_http_api_asks_for_its_token_though_any_page_may_open_the_chat(stack: Stack) -> None:
    """A page of any origin may chat, so none may read conversations or replace the model without the
    token the web app and the gateway are given."""
    elsewhere = {"Origin": "https://shop.example"}
    tracker = f"{stack.rasa_url}/conversations/origin-default/tracker"
    assert httpx.get(tracker, headers=elsewhere).status_code == 401
    assert httpx.put(f"{stack.rasa_url}/model", json={}, headers=elsewhere).status_code == 401
    assert httpx.get(tracker, params={"token": "guessed"}).status_code == 401
    assert httpx.get(tracker, params={"token": stack.rasa_token}).is_success


def test_allowed_origins_restrict_who_may_open_the_chat(tmp_path_factory: pytest.TempPathFactory) -> None:
    allowed = "https://www.lakeshore.example"
    env = {"EMBUDO_WIDGET_ORIGINS": f"{allowed} https://shop.lakeshore.example"}
    with running_stack(tmp_path_factory.mktemp("allowed-origins-stack"), env=env) as stack:
        event, _ = socketio_exchange(stack.rasa_url, allowed, "origin-allowed")
        assert event == "bot_uttered"
        with pytest.raises(InvalidStatus) as refused:
            socketio_exchange(stack.rasa_url, "https://elsewhere.example", "origin-refused")
        assert refused.value.response.status_code == 400
        polling = f"{stack.rasa_url}/socket.io/?EIO=4&transport=polling"
        answer = stack.http.get(polling, headers={"Origin": allowed})
        assert answer.is_success and answer.headers.get_list("access-control-allow-origin") == [allowed]
        assert stack.http.get(polling, headers={"Origin": "https://elsewhere.example"}).status_code == 400
