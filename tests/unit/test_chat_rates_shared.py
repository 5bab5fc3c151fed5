"""The chat rates counted in Redis (rasa_channels/guard.py), as two Rasa replicas count them: two Guards on
one real redis-server (Debian's, started here on a free port in a temporary folder; `make unit` installs it)
share each sender's and each address's count; the window slides; a Redis that does not answer leaves each
process counting alone, and once it answers again they count together."""

import logging
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from rasa_channels.guard import (
    REDIS_KEY_PREFIX,
    REDIS_RETRY_SECONDS,
    TOO_FAST,
    WINDOW_SECONDS,
    Guard,
    Limits,
    RedisSettings,
    SharedRateLimiter,
)
from tests.harness import free_port


class RedisServer:
    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server not found: `make unit` installs it (apt-get install redis-server)"
            )
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", "--appendonly", "no"],
            stdout=(self.folder / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None:
                    raise RuntimeError((self.folder / "redis.log").read_text()) from None
                threading.Event().wait(0.05)
        raise RuntimeError("redis-server did not answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    @property
    def settings(self) -> RedisSettings:
        return RedisSettings("127.0.0.1", self.port)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path_factory.mktemp("redis"))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def shared(server: RedisServer) -> RedisSettings:
    if server.process is None:  # a test stopped it
        server.start()
    redis.Redis(port=server.port).flushall()
    return server.settings


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # wall-clock seconds: replicas compare one another's stamps

    def __call__(self) -> float:
        return self.now


def replicas(shared: RedisSettings, clock: Clock, **limits: int) -> tuple[Guard, Guard]:
    """Two Guards of the same channel on the same Redis: what two Rasa replicas build."""
    return (
        Guard("rest", Limits(**limits), clock, redis_settings=shared),
        Guard("rest", Limits(**limits), clock, redis_settings=shared),
    )


def test_two_replicas_share_one_count_per_sender(shared: RedisSettings) -> None:
    one, two = replicas(shared, Clock(), sender_per_minute=5)
    answers = [(one if turn % 2 else two).rate_refusal("visitor", None) for turn in range(8)]
    assert answers == [None] * 5 + [TOO_FAST] * 3  # alternating replicas: 5 in all, not 5 on each
    assert one.rate_refusal("someone-else", None) is None
    held = redis.Redis(port=shared.port).zcard(f"{REDIS_KEY_PREFIX}rest:sender:visitor")
    assert held == 5  # refused messages are not counted


def test_two_replicas_share_one_count_per_address(shared: RedisSettings) -> None:
    one, two = replicas(shared, Clock(), sender_per_minute=100, address_per_minute=4)
    answers = [(one, two)[turn % 2].rate_refusal(f"visitor-{turn}", "10.0.0.1") for turn in range(6)]
    assert answers == [None] * 4 + [TOO_FAST] * 2
    assert two.rate_refusal("visitor-9", "10.0.0.2") is None
    assert one.rate_refusal("visitor-9", None) is None  # no address (the gateway's channel): sender only


def test_each_channel_counts_its_own(shared: RedisSettings) -> None:
    clock = Clock()
    rest = Guard("rest", Limits(sender_per_minute=1), clock, redis_settings=shared)
    socketio = Guard("socketio", Limits(sender_per_minute=1), clock, redis_settings=shared)
    assert rest.rate_refusal("me", None) is None and rest.rate_refusal("me", None) is TOO_FAST
    assert socketio.rate_refusal("me", None) is None  # as in one process: a Guard per channel


def test_the_shared_window_slides(shared: RedisSettings) -> None:
    clock = Clock()
    one, two = replicas(shared, clock, sender_per_minute=3)
    assert [one.rate_refusal("a", None), two.rate_refusal("a", None)] == [None, None]
    clock.now += WINDOW_SECONDS / 2
    assert two.rate_refusal("a", None) is None
    assert one.rate_refusal("a", None) is TOO_FAST
    clock.now += WINDOW_SECONDS / 2  # the first two are exactly a window old: gone
    assert [two.rate_refusal("a", None), one.rate_refusal("a", None)] == [None, None]
    assert two.rate_refusal("a", None) is TOO_FAST
    clock.now += WINDOW_SECONDS + 0.01
    assert one.rate_refusal("a", None) is None
    ttl = redis.Redis(port=shared.port).pttl(f"{REDIS_KEY_PREFIX}rest:sender:a")
    assert 0 < ttl <= WINDOW_SECONDS * 1000  # an idle key goes away by itself


def test_replicas_racing_for_the_last_slots_never_pass_the_limit(shared: RedisSettings) -> None:
    clock = Clock()
    limiters = [SharedRateLimiter(50, shared.client(), "race:", clock) for _ in range(2)]
    allowed: list[bool] = []
    start = threading.Barrier(8)

    def write(limiter: SharedRateLimiter) -> None:
        start.wait()
        for _ in range(25):
            allowed.append(limiter.allows("busy"))

    threads = [threading.Thread(target=write, args=(limiters[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (allowed.count(True), allowed.count(False)) == (50, 150)


def test_an_unreachable_redis_leaves_each_process_counting_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nowhere = RedisSettings("127.0.0.1", free_port())  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="rasa_channels.guard"):
        guard = Guard("rest", Limits(sender_per_minute=3, address_per_minute=100), Clock(), nowhere)
        answers = [guard.rate_refusal("me", "10.0.0.1") for _ in range(5)]
    assert answers == [None, None, None, TOO_FAST, TOO_FAST]  # neither refused nor let through unbounded
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2, warnings  # once per limiter (sender, address), not once per message
    assert all("Redis did not answer" in warning for warning in warnings)


def test_counting_together_again_once_redis_answers(
    server: RedisServer, shared: RedisSettings, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    one, two = replicas(shared, clock, sender_per_minute=4)
    assert [one.rate_refusal("me", None), two.rate_refusal("me", None)] == [None, None]
    server.stop()
    with caplog.at_level(logging.WARNING, logger="rasa_channels.guard"):
        # Redis gone: each replica counts from nothing, up to the limit each, and refuses past it
        assert [one.rate_refusal("me", None) for _ in range(5)] == [None] * 4 + [TOO_FAST]
        assert two.rate_refusal("me", None) is None
        server.start()  # empty: nothing was saved
        clock.now += REDIS_RETRY_SECONDS / 2
        assert one.rate_refusal("me", None) is TOO_FAST  # still alone until it asks again
        clock.now += REDIS_RETRY_SECONDS
        answers = [(one, two)[turn % 2].rate_refusal("me", None) for turn in range(6)]
    assert answers == [None] * 4 + [TOO_FAST] * 2  # shared again
    assert kinds(caplog) == ["did not answer", "did not answer", "answers again", "answers again"]


def kinds(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        "did not answer" if "did not answer" in record.getMessage() else "answers again"
        for record in caplog.records
    ]


def test_redis_settings_from_the_environment() -> None:
    assert RedisSettings.from_env({}) is None
    assert RedisSettings.from_env({"EMBUDO_REDIS_HOST": " "}) is None
    assert RedisSettings.from_env({"EMBUDO_REDIS_HOST": "redis.internal", "EMBUDO_REDIS_PORT": "6380"}) == (
        RedisSettings("redis.internal", 6380)
    )
    full = {
        "EMBUDO_REDIS_HOST": "redis.internal",
        "EMBUDO_REDIS_DB": "2",
        "EMBUDO_REDIS_PASSWORD": "s3cret",
        "EMBUDO_REDIS_SSL": "true",
    }
    assert RedisSettings.from_env(full) == RedisSettings("redis.internal", 6379, 2, "s3cret", True)
    with pytest.raises(ValueError, match="EMBUDO_REDIS_PORT"):
        RedisSettings.from_env({"EMBUDO_REDIS_HOST": "r", "EMBUDO_REDIS_PORT": "six"})
    with pytest.raises(ValueError, match="EMBUDO_REDIS_SSL"):
        RedisSettings.from_env({"EMBUDO_REDIS_HOST": "r", "EMBUDO_REDIS_SSL": "maybe"})


def test_a_guard_from_the_environment_counts_where_it_says(shared: RedisSettings) -> None:
    environ = {"EMBUDO_REDIS_HOST": "127.0.0.1", "EMBUDO_REDIS_PORT": str(shared.port)}
    environ["EMBUDO_CHAT_SENDER_PER_MINUTE"] = "1"
    one, two = Guard.from_env("rest", environ), Guard.from_env("rest", environ)
    assert one.rate_refusal("env", None) is None and two.rate_refusal("env", None) is TOO_FAST
    alone = Guard.from_env("rest", {"EMBUDO_CHAT_SENDER_PER_MINUTE": "1"})
    assert alone.rate_refusal("env", None) is None  # no Redis: its own count
