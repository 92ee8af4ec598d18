"""Errors the services raise for bad input or stale edits (never a bare exception)."""


class InputError(Exception):
    """Input that cannot be processed. `problems` lists each one: {file, id, reason}."""

    def __init__(self, message: str, problems: list[dict] | None = None):
        super().__init__(message)
        self.problems = problems or []


class StaleEdit(Exception):
    """A save based on an old version of an annotation; `current` is the stored version."""

    def __init__(self, message: str, current: dict):
        super().__init__(message)
        self.current = current


class JobCancelled(Exception):
    """A running job was cancelled (or declared dead) and stops at a safe point; the job runner ends it."""
