"""A local fake of Telegram's Bot API, served over real HTTP for python-telegram-bot to talk to.

It keeps what bots send, hands out queued updates through getUpdates (long polling), and can be told
to answer with flood control (429 + retry_after) or an error for a number of calls (of one chat, or any),
to be down (502 to every call) for a while, to answer slowly, or to hold an answer until released (the
call counts as delivered the moment it arrives, as on the real Bot API). A text over Telegram's 4,096
limit gets Telegram's 400.
"""

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.harness import free_port

BOT_USER = {
    "id": 4242,
    "is_bot": True,
    "first_name": "Embudo",
    "username": "embudo_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


MEDIA: dict[str, Any] = {
    "photo": [{"file_id": "p1", "file_unique_id": "up1", "width": 90, "height": 90}],
    "sticker": {"file_id": "s1", "file_unique_id": "us1", "type": "regular", "width": 512, "height": 512,
                "is_animated": False, "is_video": False},
    "voice": {"file_id": "v1", "file_unique_id": "uv1", "duration": 3},
    "location": {"latitude": 40.4168, "longitude": -3.7038},
    "document": {"file_id": "d1", "file_unique_id": "ud1", "file_name": "brief.pdf"},
}  # fmt: skip
TEXT_LIMIT = 4096


@dataclass
class Fault:
    method: str
    status: int
    retry_after: int | None
    remaining: int
    chat_id: int | None = None


@dataclass
class FakeTelegram:
    port: int = field(default_factory=free_port)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    down_until: float = 0.0  # monotonic time: every call answers 502 until then
    # (method, seconds, chats): an outage that starts at the method's next call (to one of those chats)
    _down_on: tuple[str, float, frozenset[int] | None] | None = None
    _slow: list[list[Any]] = field(default_factory=list)  # [method, seconds, calls left]
    _hold: str | None = None  # the next call of this method is answered only after release()
    held: threading.Event = field(default_factory=threading.Event)
    _release: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    open_requests: int = 0  # calls other than getUpdates being answered right now

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # --- what the test does -------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "Ana", language_code: str = "en") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}

    def _message(self, user: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **content,
        }

    def _push(self, **update: Any) -> None:
        with self._lock:
            self._updates.append({"update_id": next(self._ids), **update})

    def user_says(self, user: dict[str, Any], text: str) -> int:
        """The user writes ``text``; returns the message's id (for an edit)."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        message = self._message(user, **content)
        self._push(message=message)
        return int(message["message_id"])

    def user_edits(self, user: dict[str, Any], message_id: int, text: str) -> None:
        message = {**self._message(user, text=text), "message_id": message_id, "edit_date": int(time.time())}
        self._push(edited_message=message)

    def user_sends(self, user: dict[str, Any], kind: str, caption: str | None = None) -> None:
        """A photo, sticker, voice note, location or document (``MEDIA``), with an optional caption."""
        content: dict[str, Any] = {kind: MEDIA[kind]}
        if caption is not None:
            content["caption"] = caption
        self._push(message=self._message(user, **content))

    def user_shares_contact(self, user: dict[str, Any], phone: str) -> None:
        contact = {"phone_number": phone, "first_name": user["first_name"], "user_id": user["id"]}
        self._push(message=self._message(user, contact=contact))

    def user_presses(self, user: dict[str, Any], sent: dict[str, Any], data: str) -> None:
        """A press on a button of a message the bot sent (``sent`` as recorded by ``sent()``)."""
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": int(sent["chat_id"]), "type": "private"},
            "from": BOT_USER,
            "text": sent.get("text", ""),
        }
        query = {
            "id": str(next(self._ids)),
            "from": user,
            "chat_instance": "1",
            "data": data,
            "message": message,
        }
        self._push(callback_query=query)

    def fail(
        self,
        method: str,
        times: int,
        status: int = 429,
        retry_after: int | None = 1,
        chat_id: int | None = None,
    ) -> None:
        with self._lock:
            self.faults.append(Fault(method, status, retry_after, times, chat_id))

    def go_down(
        self, seconds: float, at_next: str | None = None, to_chats: Iterable[int] | None = None
    ) -> None:
        """Every call answers 502 for ``seconds``: from now, or from the next call of ``at_next`` (to one of
        ``to_chats``, when given: the gateway's reply to a visitor, not the notifier's card to a rep)."""
        with self._lock:
            if at_next is None:
                self.down_until = time.monotonic() + seconds
            else:
                self._down_on = (at_next, seconds, None if to_chats is None else frozenset(to_chats))

    def answer_slowly(self, method: str, seconds: float, times: int) -> None:
        with self._lock:
            self._slow.append([method, seconds, times])

    def hold_next(self, method: str) -> None:
        """The next call of ``method`` is recorded, then its answer waits for ``release()``."""
        with self._lock:
            self._hold = method
            self.held.clear()

    def release(self) -> None:
        if self._release is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                params
                for name, params in self.calls
                if name == method and (chat_id is None or params.get("chat_id") == chat_id)
            ]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; calls so far: {self.calls[-10:]}")

    # --- the HTTP side --------------------------------------------------------------------------

    def _to_one_of(self, params: dict[str, Any]) -> bool:
        chats = self._down_on[2] if self._down_on is not None else None
        return chats is None or str(params.get("chat_id")) in {str(chat) for chat in chats}

    def _fault_for(self, method: str, params: dict[str, Any]) -> Fault | None:
        with self._lock:
            if self._down_on is not None and self._down_on[0] == method and self._to_one_of(params):
                self.down_until, self._down_on = time.monotonic() + self._down_on[1], None
            if time.monotonic() < self.down_until:
                return Fault(method, 502, None, 1)
            for fault in self.faults:
                matches = fault.chat_id is None or str(params.get("chat_id")) == str(fault.chat_id)
                if fault.method == method and fault.remaining > 0 and matches:
                    fault.remaining -= 1
                    return fault
        return None

    def _delay_for(self, method: str) -> float:
        with self._lock:
            for slow in self._slow:
                if slow[0] == method and slow[2] > 0:
                    slow[2] -= 1
                    return float(slow[1])
        return 0.0

    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["method"] == "getUpdates":
            return await self._answer(request)
        with self._lock:
            self.open_requests += 1
        try:
            return await self._answer(request)
        finally:
            with self._lock:
                self.open_requests -= 1

    async def _answer(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        body = (await request.body()).decode()
        params: dict[str, Any] = {}
        if request.headers.get("content-type", "").startswith("application/json"):
            params = json.loads(body or "{}")
        else:
            for key, raw in parse_qsl(body):
                try:
                    params[key] = json.loads(raw)
                except ValueError:
                    params[key] = raw
        fault = self._fault_for(method, params)
        if fault is not None:
            if fault.status == 429:
                description = f"Too Many Requests: retry after {fault.retry_after}"
                return JSONResponse(
                    {"ok": False, "error_code": 429, "description": description,
                     "parameters": {"retry_after": fault.retry_after}},
                    status_code=429,
                )  # fmt: skip
            return JSONResponse(
                {"ok": False, "error_code": fault.status, "description": "Bad Gateway"}, fault.status
            )
        if method == "getUpdates":
            return JSONResponse({"ok": True, "result": await self._get_updates(params)})
        text = params.get("text")
        if isinstance(text, str) and len(text.encode("utf-16-le")) // 2 > TEXT_LIMIT:
            return JSONResponse(
                {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}, 400
            )
        with self._lock:
            self.calls.append((method, params))
            hold, self._hold = self._hold == method, (None if self._hold == method else self._hold)
        result = self._result(method, params)
        if hold:
            self._loop, self._release = asyncio.get_running_loop(), asyncio.Event()
            self.held.set()
            await self._release.wait()
        await asyncio.sleep(self._delay_for(method))
        return JSONResponse({"ok": True, "result": result})

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or time.monotonic() >= deadline:
                    return list(self._updates)
            await asyncio.sleep(0.02)

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in ("sendMessage", "sendPhoto", "editMessageReplyMarkup"):
            chat_id = int(params.get("chat_id", 0))
            message = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return True

    def serve(self) -> "RunningFake":
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        self.wait_for(lambda: server.started, 10, "fake Bot API to start")
        return RunningFake(server, thread)


@dataclass
class RunningFake:
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
