"""The Rasa server's calls to the action server: the domain sent only when the action server lacks it, and
the answers checked by a validator built once.

**The domain, once per action server.** Rasa 3.6 sends the whole domain (about 36 KB of our ~76 KB
request) with every call, and our forms call two to four times a turn: encoding it on the Rasa server's
event loop and decoding it in the action server was a tenth of each process's time (``make bench-profile``).
``rasa_sdk`` keeps the domain of the last call that carried one, with its digest, and answers 449 to a
call whose digest it does not hold and that carries no domain. So each call here names the domain's digest
(a hash of its content, the same on every Rasa replica with the same model) without the domain; an action
server that answers 449 — just started, restarted, another replica behind nginx, or a new model — gets the
same call again with the domain, and from then on only the digest. A 449 runs no action, so the call is
never run twice.

**The answers.** Rasa 3.6 checks every answer (``RemoteAction._validate_action_result``) with
``jsonschema.validate``, which first checks the schema itself against the JSON Schema meta-schema and builds
a new validator, on every call: about 15 % of the loop's time under 10 concurrent conversations. Here the
same schema is checked once and its validator kept; an answer is accepted or refused exactly as before,
with Rasa's own error message.

Imported by ``failsafe.py``, which every channel of ours loads, so it applies wherever our channels run.
"""

import hashlib
import json
from contextvars import ContextVar
from functools import cache
from typing import Any

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import ClientResponseError

DOMAIN_NEEDED = 449  # rasa_sdk's answer to a call without the domain whose digest it does not hold
_send_domain: ContextVar[bool] = ContextVar("embudo_send_domain", default=False)
_rasa_call_format = RemoteAction._action_call_format
_rasa_run = RemoteAction.run


def domain_digest(domain: Any) -> str:
    """The digest of the domain's content, computed once per domain object (one per loaded model)."""
    digest: str | None = getattr(domain, "_embudo_digest", None)
    if digest is None:
        content = json.dumps(domain.as_dict(), sort_keys=True, default=str).encode()
        digest = hashlib.sha256(content).hexdigest()
        domain._embudo_digest = digest
    return digest


def _action_call_format(self: RemoteAction, tracker: Any, domain: Any) -> dict[str, Any]:
    call: dict[str, Any] = _rasa_call_format(self, tracker, domain)
    call["domain_digest"] = domain_digest(domain)
    if not _send_domain.get():
        call.pop("domain", None)
    return call


def _asked_for_the_domain(error: RasaException) -> bool:
    cause = error.__cause__
    return isinstance(cause, ClientResponseError) and cause.status == DOMAIN_NEEDED


async def _run(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> Any:
    if not _send_domain.get():
        try:
            return await _rasa_run(self, output_channel, nlg, tracker, domain)
        except RasaException as error:
            if not _asked_for_the_domain(error):
                raise
    token = _send_domain.set(True)
    try:
        return await _rasa_run(self, output_channel, nlg, tracker, domain)
    finally:
        _send_domain.reset(token)


@cache
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    kind = validators.validator_for(schema)
    kind.check_schema(schema)
    return kind(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    error = exceptions.best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the Action "
        f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


RemoteAction._action_call_format = _action_call_format  # type: ignore[method-assign]
RemoteAction.run = _run  # type: ignore[method-assign]
RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
