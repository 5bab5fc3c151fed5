"""FastAPI app on :8000: ``/healthz``, the CRM REST API (``/api/v1``), the console (``/console``), the chat
widget and a demo page."""

import gc
import ipaddress
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot.calendars.caldav_busy import read_busy
from bot.web import api, console, meeting_links, unsubscribe_links
from bot.web.body_limit import BodyLimit
from bot.web.headers import SecurityHeaders
from crm_core.db import get_engine
from crm_core.limits import BODY_BYTES
from crm_core.people.login_brake import BrakeRule
from crm_core.scheduling import calendars

HERE = Path(__file__).parent


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMBUDO_", env_file=".env", extra="ignore")

    rasa_public_url: str = "http://localhost:5005"
    api_token: str = ""  # bearer token of the CRM REST API; empty: the API answers 503
    # wrong bearer tokens tolerated from one address per window before each next one waits (1 min doubling)
    api_token_misses_per_address: int = Field(default=5, ge=1)
    api_token_window_minutes: float = Field(default=15, gt=0)
    # reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: addresses or networks,
    # comma-separated (e.g. "127.0.0.1, 10.0.0.0/8"); empty: none, the peer's address is the client's
    trusted_proxies: str = ""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in _entries(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"EMBUDO_TRUSTED_PROXIES: '{entry}' is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None
        return value


def _entries(value: str) -> list[str]:
    return [entry for entry in value.replace(",", " ").split() if entry]


def create_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    calendars.use(read_busy)  # the slots offered by the API and the visitor's meeting page
    app = FastAPI(title="Embudo", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    # The client's address (the login and token brakes) and scheme (Secure cookies) come from the
    # forwarded headers only when a configured proxy sent them; uvicorn's own handling is switched off
    # (--no-proxy-headers) so this is the only place that decides.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=_entries(settings.trusted_proxies))
    token_misses = BrakeRule(
        free=settings.api_token_misses_per_address,
        window=timedelta(minutes=settings.api_token_window_minutes),
    )
    api.install(app, settings.api_token, token_misses=token_misses)
    console.install(app)
    app.add_middleware(BodyLimit, max_bytes=BODY_BYTES)
    app.add_middleware(SecurityHeaders, rasa_url=settings.rasa_public_url)  # outermost: on every answer
    templates = Jinja2Templates(directory=HERE / "templates")
    # Swagger UI from the swagger-ui-bundle package's files, never a CDN (mounted before /static, which
    # would otherwise take its paths)
    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    meeting_links.install(app, templates)  # the visitor's link to move or cancel a meeting
    unsubscribe_links.install(app, templates)  # the contact's link to stop win-back and nurture messages

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        """The API's interactive documentation (Swagger UI), served from this origin only."""
        return templates.TemplateResponse(request, "api_docs.html", {"openapi_url": app.openapi_url})

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Up, and the CRM database answers."""
        try:
            with get_engine().connect() as connection:
                connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as error:
            return JSONResponse(
                {"status": "error", "database": str(error.__class__.__name__)}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/", response_class=HTMLResponse)
    def demo_page(request: Request) -> HTMLResponse:
        """A page with the chat widget on it, and the one tag that embeds it anywhere."""
        widget = str(request.url_for("static", path="embudo-widget.js"))
        snippet = f'<script src="{widget}" data-rasa-url="{settings.rasa_public_url}" async></script>'
        return templates.TemplateResponse(
            request, "demo.html", {"rasa_url": settings.rasa_public_url, "snippet": snippet}
        )

    @app.get("/privacy", response_class=HTMLResponse)
    def privacy(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "privacy.html", {})

    return app


app = create_app()
# What the app has loaded by now (~180,000 objects: SQLAlchemy, pydantic, psycopg, phonenumbers, the models…)
# lives as long as the process: frozen, the collector's full passes no longer walk it. Each such pass took
# 110 ms on the shared 2-core machine, in the middle of whichever request ran (README "Scale").
gc.collect()
gc.freeze()
