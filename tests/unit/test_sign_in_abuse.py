"""Sign-in and the API token under abuse, over real HTTP on the test's database (SQLite or PostgreSQL):
held password checks leave signed-in pages answering, simultaneous wrong passwords get only the free
tries, forwarded addresses count only from configured proxies, a storm from one address never locks the
real user out on another, and wrong bearer tokens are braked while the right one always passes."""

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.web.app import WebSettings, create_app
from bot.web.console.password_checks import password_checks
from bot.web.console.security import console_settings
from crm_core.db import unit_of_work
from crm_core.models import LoginAttempt
from crm_core.people import login_brake, users
from crm_core.people.login_brake import BrakeRule
from tests.console import ADMIN, PASSWORD, ROSA, Seeded, console_server, csrf_of, login, seed


@pytest.fixture
def seeded(db_url: str) -> Seeded:
    return seed(db_url)


def from_address(url: str, address: str) -> httpx.Client:
    """A browser whose connections come from ``address`` (any 127.x.y.z is this machine's loopback)."""
    return httpx.Client(
        base_url=url, follow_redirects=False, timeout=60, transport=httpx.HTTPTransport(local_address=address)
    )


def checked_tries(db_url: str) -> int:
    with unit_of_work(db_url) as session:
        return session.scalar(select(func.count()).select_from(LoginAttempt)) or 0


def test_a_wrong_password_storm_from_one_address_never_locks_the_real_user_out(
    db_url: str, seeded: Seeded, tmp_path: Path
) -> None:
    with console_server(db_url, tmp_path / "web.log") as url:
        attacker = from_address(url, "127.0.0.66")
        for account in (ROSA, ADMIN):
            answers = [login(attacker, account, "guess number one").status_code for _ in range(8)]
            assert answers == [401] * 5 + [429] * 3
            locked = login(attacker, account)  # even the right password, from the guessing address
            assert locked.status_code == 429 and 1 <= int(locked.headers["retry-after"]) <= 60
            assert "for this account from your address. Try again in 1 minute." in locked.text
        for account in (ROSA, ADMIN):  # the real users, from their own address, sign in at once
            assert login(from_address(url, "127.0.0.1"), account).status_code == 303


def test_sixty_simultaneous_wrong_passwords_for_one_account_get_five_checks(
    db_url: str, seeded: Seeded, tmp_path: Path
) -> None:
    settings = {"EMBUDO_LOGIN_CHECK_THREADS": "8", "EMBUDO_LOGIN_CHECK_QUEUE": "100"}
    with console_server(db_url, tmp_path / "web.log", **settings) as url:
        browsers = [from_address(url, "127.0.0.66") for _ in range(60)]
        forms = [csrf_of(browser.get("/login").text) for browser in browsers]
        start = threading.Barrier(60)

        def wrong_password(number: int) -> int:
            start.wait()
            data = {"email": ROSA, "password": "a wrong guess", "csrf_token": forms[number]}
            return browsers[number].post("/login", data=data).status_code

        with ThreadPoolExecutor(max_workers=60) as pool:
            answers = list(pool.map(wrong_password, range(60)))
    assert answers.count(401) == 5 and answers.count(429) == 55
    assert checked_tries(db_url) == 5  # only the five were checked against the hash


def test_forwarded_addresses_count_only_from_a_configured_proxy(
    db_url: str, seeded: Seeded, tmp_path: Path
) -> None:
    def storm(url: str) -> list[int]:
        client = from_address(url, "127.0.0.66")
        answers = []
        for number in range(4):  # a new forged address for every try
            forged = {"X-Forwarded-For": f"198.51.100.{number}"}
            form = client.get("/login", headers=forged)
            data = {
                "email": f"guess{number}@embudo.example",
                "password": "x",
                "csrf_token": csrf_of(form.text),
            }
            answers.append(client.post("/login", data=data, headers=forged).status_code)
        return answers

    limit = {"EMBUDO_LOGIN_FAILURES_PER_ADDRESS": "3"}
    with console_server(db_url, tmp_path / "ignored.log", **limit) as url:
        assert storm(url) == [401, 401, 401, 429]  # no proxy configured: the header is ignored
    with console_server(db_url, tmp_path / "other.log", EMBUDO_TRUSTED_PROXIES="10.0.0.0/8", **limit) as url:
        assert storm(url) == [429] * 4  # 127.0.0.66 is not the configured proxy; still braked from before
    proxied = {"EMBUDO_TRUSTED_PROXIES": "127.0.0.66", **limit}
    with console_server(db_url, tmp_path / "proxied.log", **proxied) as url:
        assert storm(url) == [401] * 4  # behind the proxy, each client address is its own
        behind_proxy = from_address(url, "127.0.0.66")
        real_rosa = {"X-Forwarded-For": "203.0.113.7"}
        form = behind_proxy.get("/login", headers=real_rosa)
        data = {"email": ROSA, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
        assert behind_proxy.post("/login", data=data, headers=real_rosa).status_code == 303


@pytest.fixture
def app_settings(crm: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The web app in this process (so a password check can be held), on the test's database."""
    for name, value in {
        "EMBUDO_SECRET_KEY": "test-only-secret-key-0123456789abcdef",
        "EMBUDO_LOGIN_CHECK_THREADS": "2",
        "EMBUDO_LOGIN_CHECK_QUEUE": "62",
        "EMBUDO_LOGIN_FAILURES_PER_ADDRESS": "1000",
    }.items():
        monkeypatch.setenv(name, value)
    console_settings.cache_clear()
    password_checks.cache_clear()
    yield
    console_settings.cache_clear()
    password_checks.cache_clear()


def test_held_password_checks_leave_a_signed_in_reps_inbox_answering(
    crm: str, app_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(crm)
    gate = threading.Event()
    gate.set()
    held: list[str] = []
    check = users.password_matches

    def held_check(attempt: users.LoginTry, password: str) -> bool:
        if not gate.is_set():
            held.append(attempt.key)
            gate.wait(timeout=120)
        return check(attempt, password)

    monkeypatch.setattr(users, "password_matches", held_check)
    transport = httpx.ASGITransport(app=create_app(WebSettings()))

    def browser() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, base_url="http://console.test", timeout=120)

    async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
        form = await client.get("/login")
        data = {"email": email, "password": password, "csrf_token": csrf_of(form.text)}
        return await client.post("/login", data=data)

    async def scenario() -> None:
        rosa = browser()
        assert (await sign_in(rosa, ROSA, PASSWORD)).status_code == 303
        gate.clear()  # from now on every password check is held, as a slow hash would hold it
        guesses = [
            asyncio.create_task(sign_in(browser(), f"guess{n}@embudo.example", "wrong")) for n in range(66)
        ]
        for _ in range(60_000):  # a guard against hanging, not a timing check
            if len(held) == 2 and sum(guess.done() for guess in guesses) == 2:
                break
            await asyncio.sleep(0.01)
        # both check threads are held, 62 more sign-ins wait in the queue, and the 2 past it were refused
        refused = [guess.result() for guess in guesses if guess.done()]
        assert [answer.status_code for answer in refused] == [429, 429]
        assert refused[0].headers["retry-after"] == "5" and "Too many sign-ins" in refused[0].text
        inbox = await rosa.get("/console/inbox")
        assert inbox.status_code == 200 and "Waiting for you to accept" in inbox.text
        assert sum(not guess.done() for guess in guesses) == 64  # answered while all 64 still wait
        gate.set()
        answers = [(await guess).status_code for guess in guesses]
        assert sorted(answers) == [401] * 64 + [429] * 2

    asyncio.run(scenario())


def test_wrong_bearer_tokens_are_braked_per_address_and_the_right_one_never(crm: str) -> None:
    app = create_app(WebSettings(api_token="the-right-token-0123456789", api_token_misses_per_address=3))
    right = {"Authorization": "Bearer the-right-token-0123456789"}

    def get(address: str, headers: dict[str, str]) -> httpx.Response:
        return TestClient(app, client=(address, 4000)).get("/api/v1/leads", headers=headers)

    scanner = [get("192.0.2.66", {"Authorization": f"Bearer guess-{n}"}) for n in range(5)]
    assert [answer.status_code for answer in scanner] == [401, 401, 401, 429, 429]
    assert 1 <= int(scanner[3].headers["retry-after"]) <= 60
    assert "Too many wrong bearer tokens from your address" in scanner[3].text
    assert get("192.0.2.66", {}).status_code == 429  # a missing token is a wrong one
    assert get("192.0.2.66", right).status_code == 200  # the right token passes, even from there
    assert (
        get("192.0.2.7", {"Authorization": "Bearer typo"}).status_code == 401
    )  # another address: its own count
    assert all(get("192.0.2.7", right).status_code == 200 for _ in range(10))


def test_a_try_whose_clock_was_read_a_moment_earlier_is_counted_not_braked(crm: str) -> None:
    """Two sign-ins at once: the one that reached the database second may have read the clock first. Free
    tries must not make it wait for the other's later `now` (it was refused with a 429 under load)."""
    rule = BrakeRule(free=5, window=timedelta(minutes=15))
    later = datetime(2026, 12, 1, 15, 0, 1, tzinfo=UTC)
    with unit_of_work(crm) as session:
        assert login_brake.count_try(session, "login-address:192.0.2.9", rule, later) == 1
    with unit_of_work(crm) as session:
        earlier = later - timedelta(milliseconds=300)
        assert login_brake.count_try(session, "login-address:192.0.2.9", rule, earlier) == 2
