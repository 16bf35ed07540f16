"""``MissingExtraError``: an optional dependency a detector needs is not installed."""


class MissingExtraError(ImportError):
    """An optional dependency a detector needs is not installed; the message says what to
    install."""
