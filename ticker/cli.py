"""The ``ticker`` command. It only forwards: settings resolve in ticker.config, work happens in the modules."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from ticker.config import Settings
from ticker.exceptions import APIError
from ticker.store.accounts import add_user, create_token, user_by_name
from ticker.store.migrate import upgrade
from ticker.store.sql import Store

T = TypeVar("T")


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    base: Settings = ctx.obj
    return base.replace(**{k: v for k, v in overrides.items() if v is not None})


def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        await upgrade(settings.database_url)
        store = Store(settings.database_url)
        try:
            return await work(store)
        except APIError as exc:
            raise click.ClickException(exc.message) from None
        finally:
            await store.close()

    return asyncio.run(run())


@click.group(context_settings={"auto_envvar_prefix": "TICKER", "help_option_names": ["-h", "--help"]})
@click.option("--database-url", help="SQLAlchemy URL [TICKER_DATABASE_URL; default sqlite+aiosqlite:///ticker.db]")
@click.option("--redis-url", help="Redis URL; unset: the in-process broker [TICKER_REDIS_URL]")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, redis_url: str | None) -> None:
    """Ticker: live-update incident tickers for newsrooms."""
    try:
        ctx.obj = Settings.from_env(database_url=database_url, redis_url=redis_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@main.command()
@click.option("--host", help="Address to listen on [127.0.0.1]")
@click.option("--port", type=int, help="Port [8000]")
@click.option("--workers", type=int, default=1, show_default=True, help="Processes (needs Redis when above 1)")
@click.option("--demo", is_flag=True, help="Create a demo incident and reporter first")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int, demo: bool) -> None:
    """Run a node."""
    from ticker.server import serve as run_server

    settings = _settings(ctx, host=host, port=port)
    if settings.auto_migrate:
        asyncio.run(upgrade(settings.database_url))
    if demo:
        _demo(settings)
    run_server(settings.replace(auto_migrate=False), workers=workers)


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Create a demo incident (a police chase) and a reporter, and print the reader URL and a token."""
    _demo(_settings(ctx))


def _demo(settings: Settings) -> None:
    from ticker.demo import create_demo

    url, token, slug = _with_store(settings, lambda store: create_demo(store, settings))
    click.echo(f"Reader page:  {url}")
    click.echo(f"Reporter token (shown once): {token}")
    click.echo("Post an update:")
    click.echo(f"  ticker post {slug} 'Polisen har stoppat bilen.' --token {token}")


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@click.option("--display-name", help="Byline shown to readers [NAME]")
@click.option("--role", type=click.Choice(["admin", "editor", "reporter", "contributor"]), default="reporter")
@click.option("--password", help="Password for the newsroom login (prompted for with --ask-password)")
@click.option("--ask-password", is_flag=True, help="Prompt for the password (hidden, asked twice)")
@click.pass_context
def user_add(
    ctx: click.Context, name: str, display_name: str | None, role: str, password: str | None, ask_password: bool
) -> None:
    """Create a user."""
    if ask_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    account = _with_store(_settings(ctx), lambda s: add_user(s, name, display_name or name, role, password))
    click.echo(f"user {account.name} ({account.role}) created")


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option("--user", "user_name", required=True, help="The user the token acts as")
@click.option("--label", default="", help="What the token is for")
@click.pass_context
def token_create(ctx: click.Context, user_name: str, label: str) -> None:
    """Create an API token; it is printed once, on the last line."""

    async def work(store: Store) -> str:
        return await create_token(store, await user_by_name(store, user_name), label)

    click.echo(_with_store(_settings(ctx), work))


def _api(url: str, token: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"{exc.code}: {exc.read().decode(errors='replace')}") from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc.reason}") from None


@main.group()
def incident() -> None:
    """Manage incidents (through a running server's API)."""


@incident.command("create")
@click.argument("title")
@click.option("--summary", default="")
@click.option("--category", default="")
@click.option("--location", default="")
@click.option("--slug")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The server")
@click.option("--token", required=True, help="API token [TICKER_TOKEN]", envvar="TICKER_TOKEN")
def incident_create(
    title: str, summary: str, category: str, location: str, slug: str | None, url: str, token: str
) -> None:
    """Create an incident and print its slug."""
    body: dict[str, Any] = {"title": title, "summary": summary, "category": category, "location": location}
    if slug:
        body["slug"] = slug
    click.echo(_api(url, token, "POST", "/api/incidents", body)["incident"]["slug"])


@main.command()
@click.argument("slug")
@click.argument("body")
@click.option("--label", help="Time label, e.g. 23:00 [now, Europe/Stockholm]")
@click.option("--key-event", is_flag=True)
@click.option("--pin", is_flag=True)
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The server")
@click.option("--token", required=True, help="API token [TICKER_TOKEN]", envvar="TICKER_TOKEN")
def post(slug: str, body: str, label: str | None, key_event: bool, pin: bool, url: str, token: str) -> None:
    """Post an entry to an incident."""
    payload: dict[str, Any] = {"body": body, "key_event": key_event, "pinned": pin}
    if label:
        payload["label"] = label
    result = _api(url, token, "POST", f"/api/incidents/{slug}/entries", payload)
    click.echo(f"posted entry {result['entry']['id']} as seq {result['seq']}")


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
        ),
    )
    click.echo(f"partner {found.name}: {', '.join(found.origins)}; incidents: {', '.join(found.incidents or ['all'])}")


@partner.command("snippet")
@click.argument("incident_slug", metavar="INCIDENT")
@click.argument("partner_name", metavar="PARTNER")
@click.option("--public-url", help="Our address as readers see it [TICKER_PUBLIC_URL]")
@click.pass_context
def partner_snippet(ctx: click.Context, incident_slug: str, partner_name: str, public_url: str | None) -> None:
    """Print the HTML the partner pastes to embed the incident."""
    from ticker.http.embed import partner_snippets

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
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the migrations (each one, and the progress of a long one, is shown on stderr)."""
    settings = _settings(ctx)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    asyncio.run(upgrade(settings.database_url))
    click.echo("database is at the latest schema")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
