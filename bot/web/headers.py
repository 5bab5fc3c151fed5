"""The security headers of every response of the web app, each page kind with the policy it fits.

- the console and sign-in: only this origin, never framed, never cached;
- the demo page (``/``) and ``/static``: may be framed (the widget demo is shown inside other pages); the
  widget's own ``<style>`` element and its socket.io connection to Rasa are allowed;
- the API and its docs: JSON only, or the locally served Swagger UI (``/static/swagger-ui``);
- every other page (``/privacy``, ``/healthz``, errors): this origin only, never framed.
Every response also says ``nosniff`` and sends no referrer to other sites.
"""

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMMON = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
NOT_FRAMED = {"X-Frame-Options": "DENY"}
SELF_ONLY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
CONSOLE_PATHS = ("/console", "/login", "/logout")


def _origins(url: str) -> str:
    """Rasa's public URL as the origins the widget connects to: HTTP polling and its WebSocket."""
    parts = urlsplit(url)
    if not parts.netloc:
        return ""
    socket = "wss" if parts.scheme == "https" else "ws"
    return f"{parts.scheme}://{parts.netloc} {socket}://{parts.netloc}"


def headers_for(path: str, rasa_url: str) -> dict[str, str]:
    if path.startswith(CONSOLE_PATHS):
        return {"Content-Security-Policy": SELF_ONLY, **NOT_FRAMED, "Cache-Control": "no-store"}
    if path == "/api/docs":
        csp = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        )
        return {"Content-Security-Policy": csp, **NOT_FRAMED}
    if path.startswith("/api/"):
        return {"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", **NOT_FRAMED}
    if path == "/" or path.startswith("/static/"):
        csp = (
            f"default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' {_origins(rasa_url)}; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'"
        ).replace("  ", " ")
        return {"Content-Security-Policy": csp}
    return {"Content-Security-Policy": SELF_ONLY, **NOT_FRAMED}


class SecurityHeaders:
    """Adds ``headers_for`` the path to every HTTP response (a header a route set itself is kept)."""

    def __init__(self, app: ASGIApp, rasa_url: str) -> None:
        self.app = app
        self.rasa_url = rasa_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = {**COMMON, **headers_for(scope["path"], self.rasa_url)}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
