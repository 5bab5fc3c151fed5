"""The cap on request bodies: refused before they are read in full, whoever sends them.

A ``Content-Length`` above the cap is answered 413 at once, before any route (or the session check) runs;
a body streamed without one is counted as it arrives and the request stops with 413 at the first chunk
over the cap. Nothing the web app takes is near it (a note is at most 10,000 characters; no uploads).
"""

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> str:
        return f"The request body is larger than {self.max_bytes:,} bytes."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not (declared.isdigit() and int(declared) <= self.max_bytes):
            await JSONResponse({"detail": self._refusal()}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # raised inside the route: its error handler answers
                    raise HTTPException(413, self._refusal())
            return message

        await self.app(scope, counted, send)
