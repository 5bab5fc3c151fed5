"""Live takeover benchmark: the time from a rep's Send (``POST /api/v1/conversations/ID/messages``) to the
message arriving in the visitor's socket.io session, as the widget receives it. Real stack on SQLite.

Run with `make bench` (or `python bench/takeover.py`). Prints figures; asserts nothing (target p95 ≤ 500 ms).
"""

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from websockets.sync.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import summary
from tests.harness import running_stack

TOKEN = "bench-token"
SENDS = 100


class Visitor:
    """A socket.io client over a plain WebSocket, speaking what the widget speaks."""

    def __init__(self, rasa_url: str, session_id: str) -> None:
        url = rasa_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.socket: ClientConnection = connect(url)
        self.session_id = session_id
        self.socket.recv()  # engine.io open
        self.socket.send("40")
        self.next_event("")  # namespace joined
        self.emit("session_request", {"session_id": session_id})
        self.next_event("session_confirm")

    def emit(self, event: str, data: dict[str, Any]) -> None:
        self.socket.send("42" + json.dumps([event, data]))

    def next_event(self, name: str) -> Any:
        """The data of the next socket.io event called ``name`` ("" for the namespace's connect)."""
        while True:
            frame = str(self.socket.recv(timeout=30))
            if frame == "2":
                self.socket.send("3")
            elif name == "" and frame.startswith("40"):
                return None
            elif frame.startswith("42"):
                event, *data = json.loads(frame[2:])
                if event == name:
                    return data[0] if data else None


def main() -> None:
    env = {"EMBUDO_API_TOKEN": TOKEN}
    with (
        tempfile.TemporaryDirectory() as workdir,
        running_stack(Path(workdir), follow_transcripts=True, env=env) as stack,
    ):
        api = httpx.Client(base_url=f"{stack.web_url}/api/v1", headers={"Authorization": f"Bearer {TOKEN}"})
        rep = api.post("/reps", json={"name": "Bench Rep", "languages": ["en"]}).json()["id"]
        visitor = Visitor(stack.rasa_url, uuid4().hex)
        visitor.emit("user_uttered", {"message": "hello", "session_id": visitor.session_id})
        visitor.next_event("bot_uttered")
        deadline = time.monotonic() + 30
        while api.get(f"/conversations/{visitor.session_id}").status_code == 404:  # the copier's first copy
            if time.monotonic() > deadline:
                raise SystemExit("the conversation never reached the CRM")
            time.sleep(0.2)
        api.post(f"/conversations/{visitor.session_id}/takeover", json={"rep_id": rep}).raise_for_status()
        seconds, errors = [], 0
        for n in range(SENDS):
            text = f"rep message {n}"
            started = time.perf_counter()
            answer = api.post(
                f"/conversations/{visitor.session_id}/messages", json={"rep_id": rep, "text": text}
            )
            if answer.status_code != 201:
                errors += 1
                continue
            while visitor.next_event("bot_uttered").get("text") != text:
                pass
            seconds.append(time.perf_counter() - started)
        summary("rep Send → visitor's socket.io session", seconds, errors)


if __name__ == "__main__":
    main()
