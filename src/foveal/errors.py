"""The one exception type for bad user input: the CLI prints its message as one line, no traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FovealError(ValueError):
    """Bad input from the user: a message that says what was expected and what came."""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> FovealError:
    """An error for an unknown registry name, listing the closest known names."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known[:20])}"
    if not close and len(known) > 20:
        hint += ", ..."
    return FovealError(f"unknown {kind} {name!r}{hint}")


def short_list(names) -> str:
    """'N [a, b, c, d, e, ...]': a class list short enough for a one-line message."""
    names = list(names)
    return f"{len(names)} [{', '.join(map(str, names[:5]))}{', ...' if len(names) > 5 else ''}]"
