"""What the ``ticker`` command says to a person, in Swedish or English by the locale (LC_ALL, LC_MESSAGES, LANG).

Kept apart from ticker.cli so that every command can speak without importing more than this module.
"""

from __future__ import annotations

import os
from typing import IO, Any

import click


def language(environ: Any = None) -> str:
    """'sv' when the locale for messages is Swedish, else 'en' (POSIX order: LC_ALL, LC_MESSAGES, LANG)."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return "sv" if value.lower().startswith("sv") else "en"
    return "en"


TEXT: dict[str, dict[str, str]] = {
    "en": {
        "error": "Error",
        "created": "user {name} ({role}) created",
        "no_password": (
            "{name} has no password: they can use API tokens but cannot log into the desk. "
            "Set one with: ticker user passwd {name}"
        ),
        "password_set": "password of {name} changed; their desk sessions were ended",
        "password_prompt": "Password for {name}",
        "password_again": "Repeat the password",
        "password_mismatch": "The two passwords differ; try again.",
        "password_short": "The password is too short: at least {min} characters (TICKER_PASSWORD_MIN_CHARS).",
        "password_common": "That is one of the commonest passwords; choose another.",
        "password_name": "The password is the user's own name; choose another.",
        "password_needed": "Give --password, or run the command on a terminal to be asked for one.",
        "password_tries": "No acceptable password given.",
        "new_database": "Note: no database at {path} yet; this command creates one ({setting}).",
        "database": "Database: {what}",
        "upgraded": "database is at the latest schema",
        "no_users": "No users yet. Add one: ticker user add NAME --role editor",
        "users_head": "name\trole\tlogin\tbyline",
        "yes": "yes",
        "no": "no",
        "disabled": "disabled",
        "role_changed": "{name} is now {role}",
        "user_disabled": "{name} is disabled: their desk sessions ended, their tokens are refused",
        "user_enabled": "{name} is enabled again",
        "user_deleted": "{name} is deleted; their entries stay, with the byline {byline}",
        "delete_confirm": "Delete {name}? Their entries stay, with their byline",
        "not_deleted": "Nothing deleted.",
        "reset_link": "A one-time link for {name} to choose a new password (valid until {until}):",
        "tokens_revoked": "{n} token(s) of {name} revoked",
        "sockets_not_told": (
            "Note: without Redis (TICKER_REDIS_URL) no running node hears of this, so a desk page {name} has open "
            "keeps its live feed (their session is ended: it can change nothing) until it is reloaded. "
            "The desk's /desk/users closes it at once."
        ),
        "exported": "{n} audit rows written to {path}",
        "no_tokens": "No tokens.",
        "tokens_head": "id\tuser\tcreated\trevoked\tlabel",
        "revoked": "token {id} of {name} revoked",
        "no_partners": "No partners yet. Add one: ticker partner add NAME --origin https://…",
        "partner": "partner {name}: {origins}; incidents: {incidents}",
        "all": "all",
        "partner_removed": "partner {name} removed; its embeds are closed",
        "not_found": "{what} not found",
        "exists": "{message}",
        "thing_user": "user",
        "thing_partner": "partner",
        "thing_incident": "incident",
        "thing_token": "token",
        "posted": "posted entry {id} as seq {seq}",
        "submitted": "sent for review as submission {id}: published once an editor approves it",
        "closed": "{slug} closed (seq {seq})",
        "reopened": "{slug} reopened (seq {seq})",
        "unreachable": "cannot reach {url}: {reason}. Is `ticker serve` running there? (--url, TICKER_URL)",
        "http_401": "the token is missing, unknown or revoked (--token, TICKER_TOKEN): {message}",
        "http_403": "your account may not do that: {message}",
        "http_404": "not found: {message}",
        "http_409": "not possible now: {message}",
        "http_413": "too large: {message}",
        "http_415": "the server refused the request's format: {message}",
        "http_422": "invalid {field}: {message}",
        "http_429": "too many attempts; wait and try again: {message}",
        "http_5xx": "the server failed (HTTP {status}); its log says why",
        "http_other": "HTTP {status} from {url}: {message}",
        "not_ticker": "HTTP {status} from {url}, which does not look like a Ticker server",
        "http_503": "the server cannot do it now: {message}",
        "deleted": "{slug} deleted: {entries} entries and {events} events removed; its pages answer 410",
        "progress": "{what}: {done}/{total}",
        "what_entries": "entries",
        "what_events": "events",
        "exported_incident": "{slug}: {entries} entries and {events} events exported",
        "imported": "{slug} imported: {entries} entries, {events} events; {ids}",
        "ids_kept": "the entries keep their ids (and permalinks)",
        "ids_new": "the entries got new ids (theirs were taken here)",
        "not_json": "{path} is not JSON: {reason}",
        "bad_file": "{path} is not an incident's file: {field}: {message}",
        "redis_away": "Redis ({url}) did not answer, so nothing was imported: the incident's old stream must go first",
        "backup_progress": "backup: {done}/{total} pages",
        "backed_up": "{path} written ({size} bytes): {incidents} incidents, {entries} entries",
        "backup_exists": "{path} exists: name a new file",
        "backup_no_database": "there is no database at {path}",
        "backup_postgres": "the database is PostgreSQL: back it up with pg_dump (docs/deploy.md, Backups)",
        "backup_memory": "the database is in memory: there is no file to back up",
        "backup_corrupt": "the copy {path} failed its check ({verdict}); it is left there, not renamed",
    },
    "sv": {
        "error": "Fel",
        "created": "användaren {name} ({role}) är skapad",
        "no_password": (
            "{name} har inget lösenord: kan använda API-token men inte logga in på desken. "
            "Sätt ett med: ticker user passwd {name}"
        ),
        "password_set": "lösenordet för {name} är bytt; personens inloggningar på desken är avslutade",
        "password_prompt": "Lösenord för {name}",
        "password_again": "Upprepa lösenordet",
        "password_mismatch": "Lösenorden skiljer sig åt; försök igen.",
        "password_short": "Lösenordet är för kort: minst {min} tecken (TICKER_PASSWORD_MIN_CHARS).",
        "password_common": "Det är ett av de vanligaste lösenorden; välj ett annat.",
        "password_name": "Lösenordet är användarens eget namn; välj ett annat.",
        "password_needed": "Ange --password, eller kör kommandot i en terminal för att bli tillfrågad.",
        "password_tries": "Inget godtagbart lösenord angavs.",
        "new_database": "Obs: det finns ingen databas i {path} än; kommandot skapar en ({setting}).",
        "database": "Databas: {what}",
        "upgraded": "databasen har det senaste schemat",
        "no_users": "Inga användare än. Lägg till en: ticker user add NAMN --role editor",
        "users_head": "namn\troll\tinloggning\tbyline",
        "yes": "ja",
        "no": "nej",
        "disabled": "avstängd",
        "role_changed": "{name} är nu {role}",
        "user_disabled": "{name} är avstängd: inloggningarna på desken är avslutade, personens token avvisas",
        "user_enabled": "{name} är aktiverad igen",
        "user_deleted": "{name} är borttagen; inläggen finns kvar med bylinen {byline}",
        "delete_confirm": "Ta bort {name}? Inläggen finns kvar med sin byline",
        "not_deleted": "Inget borttaget.",
        "reset_link": "En engångslänk där {name} väljer ett nytt lösenord (gäller till {until}):",
        "tokens_revoked": "{n} token för {name} återkallade",
        "sockets_not_told": (
            "Obs: utan Redis (TICKER_REDIS_URL) får ingen körande nod veta detta, så en desksida som {name} har "
            "öppen behåller sitt liveflöde (sessionen är avslutad: den kan inte ändra något) tills den laddas om. "
            "Desken (/desk/users) stänger den direkt."
        ),
        "exported": "{n} rader ur ändringsloggen skrivna till {path}",
        "no_tokens": "Inga token.",
        "tokens_head": "id\tanvändare\tskapad\tåterkallad\tetikett",
        "revoked": "token {id} för {name} är återkallad",
        "no_partners": "Inga partner än. Lägg till en: ticker partner add NAMN --origin https://…",
        "partner": "partner {name}: {origins}; händelser: {incidents}",
        "all": "alla",
        "partner_removed": "partnern {name} är borttagen; dess inbäddningar är stängda",
        "not_found": "{what} finns inte",
        "exists": "namnet är upptaget ({message})",
        "thing_user": "användaren",
        "thing_partner": "partnern",
        "thing_incident": "händelsen",
        "thing_token": "token",
        "posted": "inlägg {id} publicerat som seq {seq}",
        "submitted": "skickat för granskning som nr {id}: publiceras när en redaktör godkänner det",
        "closed": "{slug} är avslutad (seq {seq})",
        "reopened": "{slug} är öppnad igen (seq {seq})",
        "unreachable": "kan inte nå {url}: {reason}. Kör `ticker serve` där? (--url, TICKER_URL)",
        "http_401": "token saknas, är okänd eller återkallad (--token, TICKER_TOKEN): {message}",
        "http_403": "ditt konto får inte göra det: {message}",
        "http_404": "finns inte: {message}",
        "http_409": "går inte just nu: {message}",
        "http_413": "för stort: {message}",
        "http_415": "servern godtog inte begärans format: {message}",
        "http_422": "ogiltigt värde för {field}: {message}",
        "http_429": "för många försök; vänta och försök igen: {message}",
        "http_5xx": "servern misslyckades (HTTP {status}); dess logg säger varför",
        "http_other": "HTTP {status} från {url}: {message}",
        "not_ticker": "HTTP {status} från {url}, som inte verkar vara en Ticker-server",
        "http_503": "servern kan inte göra det just nu: {message}",
        "deleted": "{slug} är borttagen: {entries} inlägg och {events} händelser raderade; sidorna svarar 410",
        "progress": "{what}: {done}/{total}",
        "what_entries": "inlägg",
        "what_events": "händelser",
        "exported_incident": "{slug}: {entries} inlägg och {events} händelser exporterade",
        "imported": "{slug} importerad: {entries} inlägg, {events} händelser; {ids}",
        "ids_kept": "inläggen behåller sina id (och permalänkar)",
        "ids_new": "inläggen fick nya id (deras var upptagna här)",
        "not_json": "{path} är inte JSON: {reason}",
        "bad_file": "{path} är inte en händelses fil: {field}: {message}",
        "redis_away": "Redis ({url}) svarade inte, så inget importerades: händelsens gamla ström måste bort först",
        "backup_progress": "säkerhetskopia: {done}/{total} sidor",
        "backed_up": "{path} skriven ({size} byte): {incidents} händelser, {entries} inlägg",
        "backup_exists": "{path} finns redan: ange en ny fil",
        "backup_no_database": "det finns ingen databas i {path}",
        "backup_postgres": "databasen är PostgreSQL: säkerhetskopiera den med pg_dump (docs/deploy.md, Backups)",
        "backup_memory": "databasen ligger i minnet: det finns ingen fil att kopiera",
        "backup_corrupt": "kopian {path} klarade inte kontrollen ({verdict}); den ligger kvar, inte omdöpt",
    },
}


def say(key: str, **values: Any) -> str:
    return TEXT[language()][key].format(**values)


class CliError(click.ClickException):
    """An error for a person: printed as "Fel: …" or "Error: …" by the locale, exit status 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"{say('error')}: {self.format_message()}", err=True)
