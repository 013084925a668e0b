"""The ``ticker`` command. It only forwards: settings resolve in ticker.config, work happens in the modules.

Commands import what they use when they run: the ones that only speak HTTP to a running node (post, incident …)
never load the database, migration or server libraries, so they start in a fraction of the time
(docs/benchmarks.md, "The ticker command"). What the command says to a person is in ticker.cli_text, in Swedish
or English by the locale.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from ticker.cli_text import TEXT, CliError, say
from ticker.config import Settings
from ticker.roles import ROLES  # a small module: the names only

if TYPE_CHECKING:
    from ticker.demo import Demo
    from ticker.store.audit import Actor
    from ticker.store.sql import Store

T = TypeVar("T")
PASSWORD_TRIES = 3


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    base: Settings = ctx.find_root().obj
    return base.replace(**{k: v for k, v in overrides.items() if v is not None})


def _sqlite_file(settings: Settings) -> str | None:
    """The file of an SQLite database URL (None for another database, or one in memory)."""
    scheme, _, path = settings.database_url.partition(":///")
    if not scheme.startswith("sqlite") or not path or path.startswith(":memory:"):
        return None
    return path.split("?", 1)[0]


def _prepare_database(settings: Settings, *, logged: bool = False) -> None:
    """Make the data directory, and say so when this command is about to create a new SQLite database (``logged``:
    in the node's log, where `serve` writes everything on stderr, JSON by default)."""
    path = _sqlite_file(settings)
    if path is None or os.path.exists(path):
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    chosen_by = f"TICKER_DATA_DIR: {settings.data_dir}"
    if settings.database_url != Settings(data_dir=settings.data_dir).database_url:
        chosen_by = "TICKER_DATABASE_URL"
    if logged:
        from ticker.logs import log_event

        log_event("database_new", path=os.path.abspath(path), setting=chosen_by)
        return
    click.echo(say("new_database", path=os.path.abspath(path), setting=chosen_by), err=True)


def _database_text(settings: Settings) -> str:
    path = _sqlite_file(settings)
    if path is not None:
        return os.path.abspath(path)
    scheme, sep, rest = settings.database_url.partition("://")
    credentials, at, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}{':***' if ':' in credentials else ''}{at}{host}"  # never the password


def _store_error(error: Exception) -> CliError:
    from ticker.passwords import WeakPassword

    if isinstance(error, WeakPassword):
        return CliError(say(f"password_{error.reason}", min=error.min_chars))
    message = getattr(error, "message", str(error))
    thing = f"thing_{message.split()[0]}" if message else ""
    if getattr(error, "code", None) == "not_found" and thing in TEXT["en"]:  # "user not found", named by the store
        return CliError(say("not_found", what=say(thing)))
    if getattr(error, "code", None) == "conflict" and getattr(error, "field", None) == "name":
        return CliError(say("exists", message=message))
    return CliError(message)


def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    import asyncio

    from ticker.errors import Refused
    from ticker.store.migrate import upgrade
    from ticker.store.sql import Store

    _prepare_database(settings)

    async def run() -> T:
        await upgrade(settings.database_url)
        store = Store(settings.database_url)
        try:
            return await work(store)
        except Refused as exc:
            raise _store_error(exc) from None
        finally:
            await store.close()

    return asyncio.run(run())


@click.group(context_settings={"auto_envvar_prefix": "TICKER", "help_option_names": ["-h", "--help"]})
@click.option("--data-dir", help="Where the embedded database lives [TICKER_DATA_DIR; default ~/.local/share/ticker]")
@click.option("--database-url", help="SQLAlchemy URL [TICKER_DATABASE_URL; default: ticker.db in the data dir]")
@click.option("--redis-url", help="Redis URL; unset: the in-process broker [TICKER_REDIS_URL]")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None, database_url: str | None, redis_url: str | None) -> None:
    """Ticker: live-update incident tickers for newsrooms."""
    try:
        ctx.obj = Settings.from_env(data_dir=data_dir, database_url=database_url, redis_url=redis_url)
    except ValueError as exc:  # one line and exit 78, as for every other setting (ticker.startup)
        from ticker.startup import SettingsInvalid

        raise SettingsInvalid(f"invalid settings: {exc}") from None


# Running a node.


@main.command()
@click.option("--host", help="Address to listen on [127.0.0.1]")
@click.option("--port", type=int, help="Port [8000]")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Processes, each listening on the port (needs Redis when above 1; SIGHUP restarts them in turn)",
)
@click.option("--demo", is_flag=True, help="Create a demo incident and accounts, print how to use them once up")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int, demo: bool) -> None:
    """Run a node."""
    from ticker.server import serve as run_server
    from ticker.startup import click_envvars, migrate, prepare, reach_database

    # Checked (one line and exit 78 if not), logging set up as the node will log, unknown TICKER_ names warned.
    settings = prepare(_settings(ctx, host=host, port=port), os.environ, click_envvars(main))
    if demo and workers > 1:
        raise click.UsageError("--demo runs one process: leave out --workers")
    click.echo(say("database", what=_database_text(settings)))
    _prepare_database(settings, logged=True)
    reach_database(settings)  # one line and exit 69 if it does not answer
    if settings.auto_migrate:
        migrate(settings)
    ready = _demo_when_ready(settings) if demo else None
    run_server(settings.replace(auto_migrate=False), workers=workers, on_ready=ready)


def _demo_when_ready(settings: Settings) -> Callable[[], Awaitable[None]]:
    """Made and printed once the node listens: a port already taken prints no login or token at all."""

    async def ready() -> None:
        from ticker.demo import create_demo
        from ticker.store.sql import Store

        store = Store(settings.database_url)
        try:
            made = await create_demo(store, settings)
        finally:
            await store.close()
        _print_demo(settings, made)

    return ready


@main.command("config")
@click.pass_context
def config_command(ctx: click.Context) -> None:
    """Print the effective settings and where each comes from (secrets masked); check them (exit 78 if wrong)."""
    from ticker.startup import click_envvars, show_config

    root = ctx.find_root()
    flags = [name for name in root.params if root.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE]
    show_config(_settings(ctx), os.environ, flags, click_envvars(main))


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Create the demo incident and accounts, and print how to use them (for a node started separately)."""
    from ticker.demo import create_demo

    settings = _settings(ctx)
    _print_demo(settings, _with_store(settings, lambda store: create_demo(store, settings)))


def _print_demo(settings: Settings, made: Demo) -> None:
    url = settings.resolved_public_url()
    url_option = "" if url == "http://127.0.0.1:8000" else f" --url {url}"
    lines = [
        f"Reader page:    {made.reader_url}",
        f"Newsroom desk:  {made.desk_url}  (log in as {made.login}, password {made.password})",
        f"Reporter token (shown once; reporter {made.reporter}): {made.token}",
        "Post an update as the reporter, from another terminal:",
        f"  {_self_command()} post {made.slug} 'Polisen har stoppat bilen.' --token {made.token}{url_option}",
    ]
    click.echo("\n".join(lines))
    sys.stdout.flush()


def _self_command() -> str:
    """How this very command was started, so that a printed hint runs as it is (e.g. .venv/bin/ticker)."""
    program = sys.argv[0]
    if os.path.basename(program) in ("__main__.py", "-m") or not os.path.exists(program):
        return f"{_relative(sys.executable)} -m ticker"
    return _relative(program)


def _relative(path: str) -> str:
    full = os.path.abspath(path)
    here = os.getcwd()
    if full.startswith(here + os.sep):
        return os.path.relpath(full, here)
    return full


# Users and tokens (straight to the database).


@main.group()
def user() -> None:
    """Manage users."""


def _ask_password(settings: Settings, name: str, display_name: str = "") -> str:
    """Asked for twice, hidden; a refused one (too short, too common) is asked for again."""
    from ticker.passwords import WeakPassword, check_password

    for _ in range(PASSWORD_TRIES):
        password: str = click.prompt(say("password_prompt", name=name), hide_input=True, err=True)
        again: str = click.prompt(say("password_again"), hide_input=True, err=True)
        if password != again:
            click.echo(say("password_mismatch"), err=True)
            continue
        try:
            check_password(password, settings.password_min_chars, name, display_name)
        except WeakPassword as error:
            click.echo(say(f"password_{error.reason}", min=error.min_chars), err=True)
            continue
        return password
    raise CliError(say("password_tries"))


def _checked(settings: Settings, password: str, *names: str) -> str:
    from ticker.passwords import WeakPassword, check_password

    try:
        check_password(password, settings.password_min_chars, *names)
    except WeakPassword as error:
        raise _store_error(error) from None
    return password


@user.command("add")
@click.argument("name")
@click.option("--display-name", help="Byline shown to readers [NAME]")
@click.option("--role", type=click.Choice(ROLES), default="reporter", show_default=True)
@click.option("--password", help="Password for the newsroom login (on a terminal it is asked for when left out)")
@click.option("--ask-password", is_flag=True, help="Ask for the password even without a terminal")
@click.option("--no-password", is_flag=True, help="No desk login: the user only uses API tokens")
@click.pass_context
def user_add(
    ctx: click.Context,
    name: str,
    display_name: str | None,
    role: str,
    password: str | None,
    ask_password: bool,
    no_password: bool,
) -> None:
    """Create a user (who logs into /desk with the password, or uses API tokens)."""
    from ticker.store.accounts import add_user

    settings = _settings(ctx)
    byline = display_name or name
    if password is not None:
        password = _checked(settings, password, name, byline)
    elif ask_password or (not no_password and sys.stdin.isatty()):
        password = _ask_password(settings, name, byline)
    account = _with_store(settings, lambda s: add_user(s, name, byline, role, password, by=_cli_actor()))
    click.echo(say("created", name=account.name, role=account.role))
    if password is None and not no_password:
        click.echo(say("no_password", name=account.name), err=True)


@user.command("passwd")
@click.argument("name")
@click.option("--password", help="The new password (on a terminal it is asked for when left out)")
@click.pass_context
def user_passwd(ctx: click.Context, name: str, password: str | None) -> None:
    """Set a user's password for the newsroom login; their open desk sessions end."""
    from ticker.store.accounts import change_password, user_by_name

    settings = _settings(ctx)
    if password is not None:
        password = _checked(settings, password, name)
    elif sys.stdin.isatty():
        password = _ask_password(settings, name)
    else:
        raise CliError(say("password_needed"))
    chosen = password

    async def work(store: Store) -> None:
        account = await user_by_name(store, name)
        _checked(settings, chosen, account.name, account.display_name)
        await change_password(store, account, chosen, by=_cli_actor())

    _with_store(settings, work)
    click.echo(say("password_set", name=name))


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """Every user: name, role, whether they can log into the desk, byline."""
    from ticker.store.accounts import users_with_passwords

    found = _with_store(_settings(ctx), users_with_passwords)
    if not found:
        click.echo(say("no_users"))
        return
    click.echo(say("users_head"))
    for account, has_password in found:
        flag = say("disabled") if account.disabled else say("yes") if has_password else say("no")
        click.echo(f"{account.name}\t{account.role}\t{flag}\t{account.display_name}")


def _cli_actor() -> Actor:
    """Who the audit log says did what a command did without anyone's account: the system user running it."""
    import getpass

    from ticker.store.audit import Actor

    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container's)
        who = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return Actor(None, f"cli:{who}")


def _tell_nodes(settings: Settings, name: str, sessions: list[int]) -> None:
    """Close the live sockets of the ended sessions on every node: through Redis, as the desk does."""
    if not sessions:
        return
    if settings.redis_url is None:
        click.echo(say("sockets_not_told", name=name), err=True)
        return
    import asyncio

    from ticker.notices import announce_logouts

    asyncio.run(announce_logouts(settings.redis_url, settings.redis_timeout_seconds, sessions))


def _user_command(
    ctx: click.Context, name: str, work: Callable[[Store, int, Actor], Awaitable[T]]
) -> tuple[Settings, T]:
    """Run ``work`` on the user named ``name`` (by their id), as the command line's actor."""
    from ticker.store.admin import user_id_of

    settings, by = _settings(ctx), _cli_actor()

    async def run(store: Store) -> T:
        return await work(store, await user_id_of(store, name), by)

    return settings, _with_store(settings, run)


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_context
def user_role(ctx: click.Context, name: str, role: str) -> None:
    """Give a user another role (from their next request on)."""
    from ticker.store.admin import set_role

    _user_command(ctx, name, lambda store, user_id, by: set_role(store, user_id, role, by))
    click.echo(say("role_changed", name=name, role=role))


@user.command("disable")
@click.argument("name")
@click.pass_context
def user_disable(ctx: click.Context, name: str) -> None:
    """Disable a user: their desk sessions end, their open desk pages close, their tokens are refused."""
    from ticker.store.admin import disable

    settings, (_account, ended) = _user_command(ctx, name, disable)
    _tell_nodes(settings, name, ended)
    click.echo(say("user_disabled", name=name))


@user.command("enable")
@click.argument("name")
@click.pass_context
def user_enable(ctx: click.Context, name: str) -> None:
    """Let a disabled user in again (their tokens work again; they log in anew)."""
    from ticker.store.admin import enable

    _user_command(ctx, name, enable)
    click.echo(say("user_enabled", name=name))


@user.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask")
@click.pass_context
def user_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete a user: their entries stay with their byline; their tokens, sessions and login name go."""
    from ticker.store.admin import delete

    if not yes and not click.confirm(say("delete_confirm", name=name), err=True):
        raise CliError(say("not_deleted"))
    settings, (account, ended) = _user_command(ctx, name, delete)
    _tell_nodes(settings, name, ended)
    click.echo(say("user_deleted", name=name, byline=account.display_name))


@user.command("reset")
@click.argument("name")
@click.pass_context
def user_reset(ctx: click.Context, name: str) -> None:
    """Print a one-time link where the user chooses a new password (valid TICKER_PASSWORD_RESET_SECONDS)."""
    from datetime import UTC, datetime, timedelta

    from ticker.store.admin import create_reset

    settings = _settings(ctx)
    lifetime = settings.password_reset_seconds
    until = (datetime.now(UTC) + timedelta(seconds=lifetime)).isoformat(timespec="minutes")
    _settings_used, (_account, token) = _user_command(
        ctx, name, lambda store, user_id, by: create_reset(store, user_id, by, lifetime)
    )
    click.echo(say("reset_link", name=name, until=until), err=True)
    click.echo(f"{settings.resolved_public_url()}/reset/{token}")


@user.command("revoke-tokens")
@click.argument("name")
@click.pass_context
def user_revoke_tokens(ctx: click.Context, name: str) -> None:
    """Revoke every API token of a user (one token: ticker token revoke)."""
    from ticker.store.admin import revoke_tokens

    _settings_used, (_account, revoked) = _user_command(ctx, name, revoke_tokens)
    click.echo(say("tokens_revoked", n=len(revoked), name=name))


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option("--user", "user_name", required=True, help="The user the token acts as")
@click.option("--label", default="", help="What the token is for")
@click.pass_context
def token_create(ctx: click.Context, user_name: str, label: str) -> None:
    """Create an API token; it is printed once, on the last line."""
    from ticker.store.accounts import create_token, user_by_name

    async def work(store: Store) -> str:
        return await create_token(store, await user_by_name(store, user_name), label, by=_cli_actor())

    click.echo(_with_store(_settings(ctx), work))


@token.command("list")
@click.option("--user", "user_name", help="Only this user's tokens [everyone's]")
@click.pass_context
def token_list(ctx: click.Context, user_name: str | None) -> None:
    """API tokens (never the tokens themselves, which are stored hashed): id, user, created, revoked, label."""
    from ticker.store.accounts import accounts, tokens, user_by_name

    async def work(store: Store) -> list[str]:
        people = [await user_by_name(store, user_name)] if user_name else await accounts(store)
        rows = []
        for account in people:
            for t in await tokens(store, account):
                revoked = t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "–"
                rows.append(
                    f"{t.id}\t{account.name}\t{t.created_at.isoformat(timespec='seconds')}\t{revoked}\t{t.label}"
                )
        return rows

    rows = _with_store(_settings(ctx), work)
    click.echo("\n".join([say("tokens_head"), *rows]) if rows else say("no_tokens"))


@token.command("revoke")
@click.argument("token_id", type=int)
@click.option("--user", "user_name", required=True, help="The token's user")
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int, user_name: str) -> None:
    """Revoke an API token by its id (`ticker token list`)."""
    from ticker.store.accounts import revoke_token, user_by_name

    async def work(store: Store) -> None:
        await revoke_token(store, await user_by_name(store, user_name), token_id, by=_cli_actor())

    _with_store(_settings(ctx), work)
    click.echo(say("revoked", id=token_id, name=user_name))


# Incidents and posts (through a running node's API).

url_option = click.option("--url", envvar="TICKER_URL", help="The node [TICKER_URL; default TICKER_PUBLIC_URL's]")
token_option = click.option("--token", required=True, envvar="TICKER_TOKEN", help="API token [TICKER_TOKEN]")


def _node_url(ctx: click.Context, url: str | None) -> str:
    return url or _settings(ctx).resolved_public_url()


@main.group()
def incident() -> None:
    """Manage incidents (through a running node's API; export and import on the database)."""


@incident.command("create")
@click.argument("title")
@click.option("--summary", default="")
@click.option("--category", default="")
@click.option("--location", default="")
@click.option("--slug")
@url_option
@token_option
@click.pass_context
def incident_create(
    ctx: click.Context,
    title: str,
    summary: str,
    category: str,
    location: str,
    slug: str | None,
    url: str | None,
    token: str,
) -> None:
    """Create an incident and print its slug."""
    from ticker.api_client import call

    body: dict[str, Any] = {"title": title, "summary": summary, "category": category, "location": location}
    if slug:
        body["slug"] = slug
    click.echo(call(_node_url(ctx, url), token, "POST", "/api/incidents", body)["incident"]["slug"])


def _status_command(action: str) -> Callable[..., None]:
    @click.argument("slug")
    @url_option
    @token_option
    @click.pass_context
    def command(ctx: click.Context, slug: str, url: str | None, token: str) -> None:
        from ticker.api_client import call, segment

        answer = call(_node_url(ctx, url), token, "POST", f"/api/incidents/{segment(slug)}/{action}", {})
        click.echo(say("closed" if action == "close" else "reopened", slug=slug, seq=answer["seq"]))

    return command


incident.command("close", help="Close an incident: readers see it ended.")(_status_command("close"))
incident.command("reopen", help="Reopen a closed incident.")(_status_command("reopen"))


@incident.command("delete")
@click.argument("slug")
@url_option
@token_option
@click.pass_context
def incident_delete(ctx: click.Context, slug: str, url: str | None, token: str) -> None:
    """Delete an incident and everything it holds (a takedown; an admin's token): its pages answer 410, every
    node tells its open pages. Export it first to keep a copy."""
    from ticker.api_client import call, segment

    answer = call(_node_url(ctx, url), token, "DELETE", f"/api/incidents/{segment(slug)}")
    removed = answer["removed"]
    click.echo(say("deleted", slug=slug, entries=removed["entries"], events=removed["events"]))


@incident.command("export")
@click.argument("slug")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file [standard output]")
@click.pass_context
def incident_export(ctx: click.Context, slug: str, output: str | None) -> None:
    """Write an incident to a JSON file, its entries, their history and its events, from the database (progress
    on stderr): `ticker incident export SLUG > SLUG.json`."""
    from ticker.cli_transfer import export_incident

    settings = _settings(ctx)
    tell = _stderr_line

    def work(out: IO[str]) -> dict[str, Any]:
        return _with_store(settings, lambda store: export_incident(store, settings, slug, out, tell))

    if output is None:
        found = work(sys.stdout)
    else:
        with open(output, "w", encoding="utf-8") as out:
            found = work(out)
    tell(say("exported_incident", slug=slug, entries=len(found["entries"]), events=len(found["events"])))


@incident.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--slug", help="Import at this address instead of the file's")
@click.option("--restore", is_flag=True, help="Take the address of a deleted incident (bring a takedown back)")
@click.option("--user", "stand_in", help="The account that takes the entries of authors with no account here")
@click.pass_context
def incident_import(ctx: click.Context, file: IO[str], slug: str | None, restore: bool, stand_in: str | None) -> None:
    """Import an incident from an exported file into the database (progress on stderr). An address in use is
    refused, so importing a file twice imports it once."""
    from ticker.cli_transfer import import_incident, load_file

    settings = _settings(ctx)
    loaded = load_file(file, file.name)
    done = _with_store(
        settings,
        lambda store: import_incident(
            store,
            settings,
            loaded,
            slug=slug,
            restore=restore,
            stand_in=stand_in,
            actor=_cli_actor(),
            tell=_stderr_line,
        ),
    )
    click.echo(
        say("imported", slug=done.slug, entries=done.entries, events=done.events, ids=say(f"ids_{done.entry_ids}"))
    )


def _stderr_line(text: str) -> None:
    click.echo(text, err=True)


@main.command()
@click.argument("slug")
@click.argument("body")
@click.option("--label", help="Time label, e.g. 23:00 [now, Europe/Stockholm]")
@click.option("--key-event", is_flag=True)
@click.option("--pin", is_flag=True, help="Pin it on top (editors)")
@url_option
@token_option
@click.pass_context
def post(
    ctx: click.Context, slug: str, body: str, label: str | None, key_event: bool, pin: bool, url: str | None, token: str
) -> None:
    """Post an entry to an incident."""
    from ticker.api_client import call, segment

    payload: dict[str, Any] = {"body": body, "key_event": key_event}
    if pin:
        payload["pinned"] = True
    if label:
        payload["label"] = label
    result = call(_node_url(ctx, url), token, "POST", f"/api/incidents/{segment(slug)}/entries", payload)
    if "submission" in result:
        click.echo(say("submitted", id=result["submission"]["id"]))
    else:
        click.echo(say("posted", id=result["entry"]["id"], seq=result["seq"]))


# Partner sites.


@main.group()
def partner() -> None:
    """Partner sites that embed incidents (docs/embeds.md)."""


@partner.command("add")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, required=True, help="An allowed origin, e.g. https://gp.se")
@click.option("--incident", "incidents", multiple=True, help="Only this incident (repeatable) [every incident]")
@click.option("--allow-subdomains", is_flag=True, help="Accept subdomain patterns such as https://*.gp.se")
@click.pass_context
def partner_add(
    ctx: click.Context, name: str, origins: tuple[str, ...], incidents: tuple[str, ...], allow_subdomains: bool
) -> None:
    """Register a partner and the origins its pages are served from."""
    from ticker.store.partners import add_partner

    settings = _settings(ctx)
    found = _with_store(
        settings,
        lambda s: add_partner(
            s,
            name,
            origins,
            incidents or None,
            allow_subdomains=allow_subdomains,
            max_origins=settings.max_partner_origins,
            by=_cli_actor(),
        ),
    )
    click.echo(_partner_line(found.name, found.origins, found.incidents))


def _partner_line(name: str, origins: tuple[str, ...], incidents: tuple[str, ...] | None) -> str:
    return say("partner", name=name, origins=", ".join(origins), incidents=", ".join(incidents or [say("all")]))


@partner.command("list")
@click.pass_context
def partner_list(ctx: click.Context) -> None:
    """Every partner, its origins and incidents."""
    from ticker.store.partners import partners

    found = _with_store(_settings(ctx), partners)
    click.echo("\n".join(_partner_line(p.name, p.origins, p.incidents) for p in found) or say("no_partners"))


@partner.command("remove")
@click.argument("name")
@url_option
@token_option
@click.pass_context
def partner_remove(ctx: click.Context, name: str, url: str | None, token: str) -> None:
    """Remove a partner through a running node (an admin's token), so that every node closes its embeds at once."""
    from ticker.api_client import call, segment

    call(_node_url(ctx, url), token, "DELETE", f"/api/partners/{segment(name)}")
    click.echo(say("partner_removed", name=name))


@partner.command("snippet")
@click.argument("incident_slug", metavar="INCIDENT")
@click.argument("partner_name", metavar="PARTNER")
@click.option("--public-url", help="Our address as readers see it [TICKER_PUBLIC_URL]")
@click.pass_context
def partner_snippet(ctx: click.Context, incident_slug: str, partner_name: str, public_url: str | None) -> None:
    """Print the HTML the partner pastes to embed the incident."""
    from ticker.http.partnership import partner_snippets

    settings = _settings(ctx, public_url=public_url)
    found = _with_store(settings, lambda s: partner_snippets(s, settings, incident_slug, partner_name))
    click.echo(found.text, nl=False)


@main.group()
def source() -> None:
    """Public sources on the desk: the police's events, crisis alerts, RSS and Atom feeds (docs/sources.md)."""


@source.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(["polisen", "krisinformation", "sr_vma", "feed"]))
@click.option("--url", required=True, help="e.g. https://polisen.se/api/events")
@click.option("--interval", type=int, default=120, show_default=True, help="Seconds between polls (at least the floor)")
@click.option("--place", "places", multiple=True, help="Only items about this place (repeatable) [all]")
@click.option("--type", "types", multiple=True, help="Only items of this type, e.g. Trafikbrott (repeatable) [all]")
@click.option("--paused", is_flag=True, help="Add it without polling it yet")
@click.pass_context
def source_add(
    ctx: click.Context,
    name: str,
    kind: str,
    url: str,
    interval: int,
    places: tuple[str, ...],
    types: tuple[str, ...],
    paused: bool,
) -> None:
    """Add a source; the node that polls asks it within a moment."""
    from pydantic import ValidationError

    from ticker.http.sources import SourceIn
    from ticker.sources.store import SourceLimits, add_source

    fields = {"name": name, "kind": kind, "url": url, "interval_seconds": interval}
    try:
        data = SourceIn.model_validate({**fields, "places": list(places), "types": list(types), "enabled": not paused})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise click.BadParameter(first["msg"], param_hint=".".join(str(p) for p in first["loc"])) from None
    settings = _settings(ctx)
    limits = SourceLimits.of(settings)
    view = _with_store(settings, lambda s: add_source(s, data.model_dump(), limits))
    click.echo(f"source {view['name']} ({view['kind']}) added: every {view['effective_interval_seconds']} s")


@source.command("list")
@click.pass_context
def source_list(ctx: click.Context) -> None:
    """Each source, its filters and its status: when it last answered, its items, its last error."""
    from ticker.sources.store import SourceLimits, source_views

    settings = _settings(ctx)
    for view in _with_store(settings, lambda s: source_views(s, SourceLimits.of(settings))):
        state = "" if view["enabled"] else " (paused)"
        filters = ", ".join(view["places"] + view["types"]) or "everything"
        click.echo(f"{view['name']}{state}: {view['kind']} {view['url']} every {view['effective_interval_seconds']} s")
        click.echo(f"  keeps: {filters}; {view['items']} items; last answered: {view['last_ok_at'] or 'never'}")
        if view["last_error"]:
            click.echo(f"  last error: {view['last_error']}")


@source.command("remove")
@click.argument("name")
@click.pass_context
def source_remove(ctx: click.Context, name: str) -> None:
    """Remove a source and its items (tickers started from them stay)."""
    from ticker.sources.store import remove_source, source_by_name

    async def work(store: Store) -> None:
        await remove_source(store, (await source_by_name(store, name)).id)

    _with_store(_settings(ctx), work)
    click.echo(f"source {name} removed")


@main.group()
def audit() -> None:
    """The audit log: who changed what and when (docs/newsroom.md, "Audit log")."""


@audit.command("export")
@click.option("--format", "kind", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--actor", help="Only what this user (login name) or actor did")
@click.option("--incident", help="Only what concerns this incident (slug)")
@click.option("--kind", "what", help="Only this kind (entry.posted), or all of a group (entry)")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="A file [standard output]")
@click.pass_context
def audit_export(
    ctx: click.Context, kind: str, actor: str | None, incident: str | None, what: str | None, output: str | None
) -> None:
    """Every row that matches, oldest first, as JSON lines or CSV (the desk's download link gives the same)."""
    from ticker.store.audit import Filter, every, export_lines, kind_choices

    if what is not None and what not in kind_choices():
        raise click.BadParameter(f"one of {', '.join(kind_choices())}", param_hint="--kind")
    where = Filter(actor or None, incident or None, what)
    out: IO[str] = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115

    async def work(store: Store) -> int:
        written = 0
        async for line in export_lines(every(store, where), kind):
            out.write(line)
            written += 1
        return written - (kind == "csv")  # less the header

    try:
        written = _with_store(_settings(ctx), work)
    finally:
        if output:
            out.close()
    if output:
        click.echo(say("exported", n=written, path=output), err=True)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the migrations (each one, and the progress of a long one, is shown on stderr)."""
    import asyncio
    import logging

    from ticker.store.migrate import upgrade

    settings = _settings(ctx)
    _prepare_database(settings)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    asyncio.run(upgrade(settings.database_url))
    click.echo(say("upgraded"))


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@click.pass_context
def db_backup(ctx: click.Context, path: str) -> None:
    """Copy the SQLite database to PATH while nodes run (SQLite's online backup, progress on stderr). For
    PostgreSQL use pg_dump (docs/deploy.md, "Backups")."""
    from pathlib import Path

    from ticker.cli_transfer import backup_sqlite, sqlite_file

    made = backup_sqlite(sqlite_file(_settings(ctx)), Path(path), _stderr_line)
    click.echo(say("backed_up", path=made.path, size=made.size, incidents=made.incidents, entries=made.entries))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
