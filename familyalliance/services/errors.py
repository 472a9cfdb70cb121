"""The error every use case raises for a request it cannot carry out, with a message fit for the user."""

from __future__ import annotations


class OperationError(ValueError):
    """A request that cannot be carried out, with a message fit for the user."""
