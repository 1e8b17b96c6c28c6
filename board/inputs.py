"""Checks for values that come from outside, before pydantic's constraints or PostgreSQL see them.

Each check raises ``ValueError`` with a short reason (pydantic validators turn it into a field
error; ``models.parse`` into one line). They exist because PostgreSQL refuses some text that Python
holds happily (NUL, lone surrogates) and because JSON documents need limits that pydantic's
``Any`` does not have: size, nesting depth, finite numbers.
"""

from __future__ import annotations

import json
import math
import reprlib
from typing import Any

from phoenix_board.board import constants

_SHOW = reprlib.Repr()
_SHOW.maxstring = 40
_SHOW.maxother = 40
_SHOW.maxlist = _SHOW.maxdict = _SHOW.maxtuple = 3
_SHOW.maxlevel = 2


def shown(value: Any) -> str:
    """A short, printable quotation of any value for an error message (never raises)."""
    try:
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
            return f"an integer of {value.bit_length()} bits"  # str() of a huge int raises ValueError
        text = _SHOW.repr(value)
    except Exception:  # a hostile __repr__, a recursion: name the type only
        text = f"a {type(value).__name__}"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def text(value: str) -> str:
    """Text PostgreSQL can store: no NUL, valid Unicode (no lone surrogates, which UTF-8 cannot encode)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (it has a lone surrogate)") from None
    return value


def json_document(value: Any) -> Any:
    """A JSON value within the limits: plain types, string keys, finite numbers, valid text, at
    most PAYLOAD_DEPTH_MAX levels and PAYLOAD_MAX_BYTES as UTF-8 JSON. Walked without recursion,
    so a document nested 100,000 levels deep is refused, not a RecursionError."""
    stack = [(value, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > constants.PAYLOAD_MAX_BYTES:  # every value takes at least one byte of JSON
            raise ValueError(f"must be at most {constants.PAYLOAD_MAX_BYTES} bytes as JSON")
        if isinstance(node, dict | list | tuple):
            if depth > constants.PAYLOAD_DEPTH_MAX:
                raise ValueError(f"must nest at most {constants.PAYLOAD_DEPTH_MAX} levels of objects and arrays")
            if isinstance(node, dict):
                for key in node:
                    if not isinstance(key, str):
                        raise ValueError(f"object keys must be strings, not {type(key).__name__}")
                    _json_text(key)
                children = node.values()
            else:
                children = node
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(node, str):
            _json_text(node)
        elif isinstance(node, bool) or node is None:
            pass
        elif isinstance(node, int | float):
            # an int is compared exactly: math.isfinite() would overflow on one past 1.8e308
            if (isinstance(node, float) and not math.isfinite(node)) or abs(node) > constants.PAYLOAD_NUMBER_MAX:
                raise ValueError("must not contain NaN or infinity, nor numbers beyond 1.8e308")
        else:
            raise ValueError(f"must be plain JSON (objects, arrays, strings, numbers, booleans, null), "
                             f"not {type(node).__name__}")
    size = len(json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8"))
    if size > constants.PAYLOAD_MAX_BYTES:
        raise ValueError(f"must be at most {constants.PAYLOAD_MAX_BYTES} bytes as JSON, not {size}")
    return value


def _json_text(value: str) -> None:
    try:
        text(value)
    except ValueError as exc:
        raise ValueError(f"strings {exc}") from None
