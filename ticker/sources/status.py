"""A source's trouble in plain Swedish, for its status line on the desk (the log line keeps the detail)."""

from __future__ import annotations

from ticker.net.fetch import FetchError
from ticker.sources.found import Unreadable

HTTP = {
    401: "Servern kräver inloggning (HTTP 401).",
    403: "Servern nekar åtkomst (HTTP 403).",
    404: "Adressen finns inte på servern (HTTP 404).",
    410: "Adressen finns inte längre (HTTP 410).",
    429: "Servern ber oss fråga mer sällan (HTTP 429). Vi väntar längre innan nästa försök.",
}


def describe(error: Exception, *, timeout: float, max_bytes: int) -> str:
    if isinstance(error, Unreadable):
        return f"Svaret gick inte att läsa ({error}). Det som redan hämtats finns kvar."
    if not isinstance(error, FetchError):
        return "Ett internt fel hindrade hämtningen. Vi försöker igen."
    if error.code == "status" and error.status is not None:
        if error.status in HTTP:
            return HTTP[error.status]
        if error.status >= 500:
            return f"Servern har fel just nu (HTTP {error.status}). Vi försöker igen."
        return f"Servern svarade med fel (HTTP {error.status})."
    return {
        "refused": f"Adressen leder till ett internt nät och hämtas aldrig ({error.message}).",
        "bad_url": "Adressen går inte att använda: den måste börja med http:// eller https://.",
        "dns": "Serverns namn gick inte att slå upp.",
        "connect": "Servern gick inte att nå.",
        "timeout": f"Servern svarade inte inom {timeout:g} sekunder.",
        "too_large": f"Svaret var för stort (mer än {max_bytes // 1024} kB) och lästes inte.",
        "redirects": "Adressen skickade oss vidare för många gånger.",
    }.get(error.code, "Hämtningen misslyckades.")
