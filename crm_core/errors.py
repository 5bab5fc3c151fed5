"""Errors that carry a message meant for the person who caused them."""


class CrmError(Exception):
    """A request the CRM refuses; nothing was changed."""


class NotFound(CrmError):
    pass


class InvalidInput(CrmError):
    pass


class InvalidTransition(CrmError):
    """A stage move the pipeline does not allow."""
