"""The password policy for newsroom logins: long enough, not one of the commonest, not the user's own name.

Applied wherever a person chooses a password (``ticker user add`` and ``user passwd``, the desk's user form);
``TICKER_PASSWORD_MIN_CHARS`` sets the length. Passwords are never stored, only their argon2id hashes.
"""

from __future__ import annotations

from ticker.common_passwords import WORDS
from ticker.errors import Refused


class WeakPassword(Refused):
    """An ``invalid`` refusal (field ``password``) with the reason, so that the CLI can say it in the reader's
    language."""

    def __init__(self, reason: str, message: str, min_chars: int) -> None:
        super().__init__("invalid", message, "password")
        self.reason = reason  # "short", "common" or "name"
        self.min_chars = min_chars


def check_password(password: str, min_chars: int, *names: str) -> None:
    """Raise WeakPassword unless ``password`` meets the policy; ``names`` are the user's name and byline."""
    if len(password) < min_chars:
        raise WeakPassword("short", f"password: at least {min_chars} characters (TICKER_PASSWORD_MIN_CHARS)", min_chars)
    folded = password.strip().casefold()
    if folded in WORDS:
        raise WeakPassword("common", "password: one of the commonest passwords; choose another", min_chars)
    if any(folded == name.strip().casefold() for name in names if name):
        raise WeakPassword("name", "password: the same as the user's name; choose another", min_chars)
