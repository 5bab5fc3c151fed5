"""`embudo admin create` and `embudo users ...`, run as a user runs them: subprocesses on a real database."""

import os
import subprocess

from crm_core.db import unit_of_work
from crm_core.people.users import authenticate, resume_session, start_session
from tests.unit.test_cli import EMBUDO


def embudo(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EMBUDO_DATABASE_URL": db_url}
    return subprocess.run(
        [str(EMBUDO), *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_the_first_admin_is_created_with_a_password_from_stdin_and_can_sign_in(db_url: str) -> None:
    empty = embudo(db_url, "users", "list")
    assert "create the first admin with `embudo admin create" in empty.stdout
    created = embudo(
        db_url,
        "admin",
        "create",
        "--email",
        "Boss@Example.com",
        "--password-stdin",
        stdin="a long secret 1\n",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "created admin login 1: boss@example.com"
    assert "a long secret" not in created.stdout + created.stderr
    with unit_of_work(db_url) as session:
        user = authenticate(session, "boss@example.com", "a long secret 1", "127.0.0.1")
    assert user is not None and user.is_admin


def test_the_password_prompt_asks_twice_and_refuses_a_mismatch(db_url: str) -> None:
    # Without a terminal the hidden prompt reads standard input (with a warning that it cannot hide it).
    mismatch = embudo(
        db_url, "admin", "create", "--email", "boss@example.com", stdin="a long secret 1\nanother one 22\n"
    )
    assert mismatch.returncode != 0 and "do not match" in mismatch.stderr + mismatch.stdout
    typed = embudo(
        db_url, "admin", "create", "--email", "boss@example.com", stdin="a long secret 1\na long secret 1\n"
    )
    assert typed.returncode == 0, typed.stderr + typed.stdout
    assert "created admin login 1" in typed.stdout


def test_a_rep_gets_a_login_and_bad_requests_get_a_clear_message(db_url: str) -> None:
    assert embudo(db_url, "reps", "add", "--name", "Rosa Diaz", "--languages", "en").returncode == 0
    added = embudo(
        db_url,
        "users",
        "add-rep",
        "--email",
        "rosa@example.com",
        "--rep-id",
        "1",
        "--password-stdin",
        stdin="rosas secret!\n",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "created rep login 1: rosa@example.com for rep Rosa Diaz (1)"
    for args, stdin, message in [
        (("--email", "other@example.com", "--rep-id", "1"), "long enough pw\n", "Rep 1 already has a login."),
        (("--email", "ghost@example.com", "--rep-id", "7"), "long enough pw\n", "No rep with id 7."),
        (("--email", "short@example.com", "--rep-id", "1"), "short\n", "at least 10 characters"),
        (("--email", "not-an-email", "--rep-id", "1"), "long enough pw\n", "is not a valid e-mail address"),
    ]:
        refused = embudo(db_url, "users", "add-rep", *args, "--password-stdin", stdin=stdin)
        assert (
            refused.returncode == 1
            and "Cannot create the login: " in refused.stderr
            and message in refused.stderr
        )
    listed = embudo(db_url, "users", "list")
    assert (
        "rosa@example.com" in listed.stdout
        and "rep 1 Rosa Diaz" in listed.stdout
        and "never" in listed.stdout
    )


def test_deactivating_a_login_signs_it_out_and_a_reset_password_works(db_url: str) -> None:
    embudo(
        db_url,
        "admin",
        "create",
        "--email",
        "boss@example.com",
        "--password-stdin",
        stdin="a long secret 1\n",
    )
    with unit_of_work(db_url) as session:
        token, _ = start_session(session, 1)
    off = embudo(db_url, "users", "deactivate", "boss@example.com")
    assert off.returncode == 0 and "deactivated and signed out" in off.stdout
    with unit_of_work(db_url) as session:
        assert resume_session(session, token) is None
        assert authenticate(session, "boss@example.com", "a long secret 1", "127.0.0.1") is None
    assert embudo(db_url, "users", "activate", "boss@example.com").returncode == 0
    reset = embudo(
        db_url, "users", "set-password", "boss@example.com", "--password-stdin", stdin="a new secret 22\n"
    )
    assert reset.returncode == 0 and "sessions ended" in reset.stdout
    with unit_of_work(db_url) as session:
        assert authenticate(session, "boss@example.com", "a new secret 22", "127.0.0.1") is not None
    unknown = embudo(db_url, "users", "deactivate", "nobody@example.com")
    assert unknown.returncode == 1 and "No login for nobody@example.com." in unknown.stderr
