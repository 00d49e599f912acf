"""One-line error reasons for users: the same rule in every tool and node."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text, or its type name when the text is empty."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
