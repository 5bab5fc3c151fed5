"""The action server's answers, checked against Rasa's schema by a validator built once.

Rasa 3.6 checks every answer of the action server (``RemoteAction._validate_action_result``) with
``jsonschema.validate``, which first checks the schema itself against the JSON Schema meta-schema and
builds a new validator, on every call. The events schema is large and our forms call the action server
two or three times a turn, so that was about 15 % of the Rasa server's event-loop time under 10 concurrent
conversations (``make bench-profile``). Here the same schema is checked once and its validator kept; an
answer is accepted or refused exactly as before, with Rasa's own error message.

Imported by ``failsafe.py``, which every channel of ours loads, so it applies wherever our channels run.
"""

from functools import cache
from typing import Any

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


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


RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
