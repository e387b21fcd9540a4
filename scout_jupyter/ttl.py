"""The one rule for the lifetime of a signed URL, shared by the server, the client and the CLI.

A TTL is a whole number of seconds from 1 to a cap: the server's ``max_ttl`` (default 3600,
never above :data:`HARD_MAX_TTL`) for URLs signed through the dataset proxy, and the store's own
cap (:attr:`Storage.max_sign_ttl`: 7 days for S3, :data:`HARD_MAX_TTL` otherwise) in direct mode.
Every refusal has the same wording, so a user sees one rule wherever they ask.
"""

from __future__ import annotations

import re

from .errors import InvalidTTL

#: The longest lifetime this product signs through its server (DESIGN.md: max_ttl's cap).
HARD_MAX_TTL = 86_400
#: The server's default ``max_ttl`` and the default lifetime of a URL asked without a TTL.
DEFAULT_TTL = 3600
_TTL_RE = re.compile(r"[0-9]{1,9}")


def ttl_rule(cap: int) -> str:
    """The rule in words: ``a whole number of seconds from 1 to 3600``."""
    return f"a whole number of seconds from 1 to {int(cap)}"


def check_ttl(value: object, cap: int, *, text: bool = True) -> int:
    """``value`` (an int, or with ``text`` the decimal digits of one, as in a query string or on
    a command line) as seconds in ``1..cap``; else :class:`InvalidTTL` saying the rule.
    ``1.5``, ``1e21``, ``-1``, ``0``, ``True`` and text that is not a plain integer are refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds: int | None = value
    elif text and isinstance(value, str) and _TTL_RE.fullmatch(value):
        seconds = int(value)
    else:
        seconds = None
    if seconds is None or not 1 <= seconds <= cap:
        raise InvalidTTL(f"Invalid TTL {_shown(value, text)}: expected {ttl_rule(cap)}")
    return seconds


_PLAIN = re.compile(r"[A-Za-z0-9.+-]{1,24}")


def _shown(value: object, from_text: bool) -> str:
    """The refused value: as typed when it is a short simple token, else quoted (spaces, CR/LF);
    a Python caller's str always quoted, since the type is the mistake."""
    shown = value if isinstance(value, str) else repr(value)
    plain = _PLAIN.fullmatch(shown) and (from_text or not isinstance(value, str))
    return shown if plain else repr(shown[:24])
