"""A socket.io chat client as standard web-chat clients speak it (Engine.IO 4 framing over a WebSocket), for
tests: ask for a session, send messages, read the bot's events."""

import json
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


class SocketChat:
    def __init__(self, rasa_url: str, origin: str | None = None) -> None:
        url = rasa_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.socket: ClientConnection = connect(url, origin=origin, open_timeout=20, max_size=None)  # type: ignore[arg-type]
        assert str(self.socket.recv(timeout=20)).startswith("0")  # Engine.IO open
        self.socket.send("40")
        assert str(self.socket.recv(timeout=20)).startswith("40")  # Socket.IO connected

    def emit(self, event: str, data: Any) -> None:
        self.socket.send("42" + json.dumps([event, data]))

    def event(self, timeout: float = 30) -> tuple[str, Any] | None:
        """The next Socket.IO event, answering pings meanwhile; None when nothing came in ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = str(self.socket.recv(timeout=left))
            except (TimeoutError, ConnectionClosed):
                return None
            if frame == "2":
                self.socket.send("3")
            elif frame.startswith("42"):
                name, *data = json.loads(frame[2:])
                return str(name), (data[0] if data else None)
        return None

    def session(self, wanted: str | None) -> str:
        """Asks for session ``wanted``; returns the one the server confirmed."""
        self.emit("session_request", {"session_id": wanted})
        while (found := self.event()) is not None:
            if found[0] == "session_confirm":
                return str(found[1])
        raise AssertionError("no session_confirm")

    def say(self, session: str, text: Any, metadata: Any = None) -> dict[str, Any]:
        """Sends a message; returns the first ``bot_uttered`` that follows."""
        self.emit("user_uttered", {"message": text, "session_id": session, "customData": metadata or {}})
        while (found := self.event()) is not None:
            if found[0] == "bot_uttered":
                return dict(found[1])
        raise AssertionError(f"no reply to {text!r}")

    def drain(self, quiet: float = 1.5) -> list[dict[str, Any]]:
        """The bot messages still coming, until none came for ``quiet`` seconds."""
        replies = []
        while (found := self.event(quiet)) is not None:
            if found[0] == "bot_uttered":
                replies.append(dict(found[1]))
        return replies

    @property
    def open(self) -> bool:
        try:
            return self.socket.ping().wait(10)
        except ConnectionClosed:
            return False

    def close(self) -> None:
        self.socket.close()
