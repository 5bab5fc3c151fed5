"""Errors that carry a message meant for the person who caused them."""

from pydantic import ValidationError


class CrmError(Exception):
    """A request the CRM refuses; nothing was changed."""


class NotFound(CrmError):
    pass


class InvalidInput(CrmError):
    """Input the CRM cannot take; ``field`` names the form field at fault when one is (shown beside it)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidTransition(CrmError):
    """A stage move the pipeline does not allow."""


def explain(error: ValidationError) -> str:
    """Pydantic's complaints as one line a person can act on: ``field: problem; field: problem``."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors()
    )
