"""A local fake of Telegram's Bot API, served over real HTTP for python-telegram-bot to talk to.

It keeps what bots send, hands out queued updates through getUpdates (long polling), and can be told
to answer with flood control (429 + retry_after) or to be down (502) for a number of calls.
"""

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
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


@dataclass
class Fault:
    method: str
    status: int
    retry_after: int | None
    remaining: int


@dataclass
class FakeTelegram:
    port: int = field(default_factory=free_port)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

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

    def user_says(self, user: dict[str, Any], text: str) -> None:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
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

    def fail(self, method: str, times: int, status: int = 429, retry_after: int | None = 1) -> None:
        with self._lock:
            self.faults.append(Fault(method, status, retry_after, times))

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

    def _fault_for(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None

    async def _endpoint(self, request: Request) -> JSONResponse:
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
        fault = self._fault_for(method)
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
        with self._lock:
            self.calls.append((method, params))
        return JSONResponse({"ok": True, "result": self._result(method, params)})

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
