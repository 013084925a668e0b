"""What ``ticker serve`` and ``ticker config`` check before a node starts, each problem one line, never a traceback.

Exit statuses follow sysexits.h, so a supervisor can tell a setting to fix from a dependency to wait for:
78 (EX_CONFIG) a setting is wrong, 69 (EX_UNAVAILABLE) the database does not answer or cannot be upgraded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

import click

from ticker.cli_text import CliError
from ticker.config import Settings
from ticker.config_check import SettingsError, check, effective, masked_url, unknown_names
from ticker.logs import log_event, raised_at

EX_UNAVAILABLE = 69
EX_CONFIG = 78


class StartError(CliError):
    """Printed as one line ("Error: …"), whatever the driver's message held."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class SettingsInvalid(StartError):
    exit_code = EX_CONFIG


class DatabaseUnavailable(StartError):
    exit_code = EX_UNAVAILABLE


def checked(settings: Settings) -> Settings:
    try:
        return check(settings)
    except SettingsError as exc:
        raise SettingsInvalid(f"invalid settings: {exc}") from None


def prepare(settings: Settings, environ: Mapping[str, str], also_known: Iterable[str] = ()) -> Settings:
    """Checked settings, this process's logging set up by them, and a warning for each unknown TICKER_ name."""
    from ticker.log_format import configure

    settings = checked(settings)
    configure(settings.log_level, settings.log_format, settings.node_name)
    for name in unknown_names({k: v for k, v in environ.items() if k not in set(also_known)}):
        log_event("setting_unknown", logging.WARNING, setting=name)
    return settings


def click_envvars(group: click.Group, prefix: str = "TICKER") -> set[str]:
    """The variables click reads for the command's own options (``auto_envvar_prefix``: TICKER_SERVE_WORKERS …)."""
    found: set[str] = set()
    for name, command in group.commands.items():
        path = f"{prefix}_{name.replace('-', '_').upper()}"
        found.update(f"{path}_{p.name.upper()}" for p in command.params if isinstance(p, click.Option) and p.name)
        if isinstance(command, click.Group):
            found |= click_envvars(command, path)
    return found


def reach_database(settings: Settings) -> None:
    """Connect once, within TICKER_DATABASE_CONNECT_TIMEOUT_SECONDS, or StartError naming the database and why."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def connect() -> None:
        engine = create_async_engine(settings.database_url)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    timeout = settings.database_connect_timeout_seconds
    try:
        asyncio.run(asyncio.wait_for(connect(), timeout))
    except TimeoutError:
        raise DatabaseUnavailable(_unreachable(settings, f"no answer within {timeout:g} s")) from None
    except Exception as exc:  # each driver fails its own way: refused, unknown host, no such database, password
        raise DatabaseUnavailable(_unreachable(settings, _reason(exc))) from None


def migrate(settings: Settings) -> None:
    """The schema upgraded (TICKER_AUTO_MIGRATE); a failure is logged where it happened and said in one line."""
    from ticker.store.migrate import upgrade

    try:
        asyncio.run(upgrade(settings.database_url))
    except Exception as exc:
        log_event("migration_failed", logging.ERROR, error=repr(exc)[:500], at=raised_at(exc))
        raise DatabaseUnavailable(f"the database could not be upgraded: {_reason(exc)}") from None


def _unreachable(settings: Settings, reason: str) -> str:
    return f"cannot reach the database {masked_url(settings.database_url)}: {reason} (TICKER_DATABASE_URL)"


def _reason(exc: BaseException) -> str:
    cause = exc.orig if hasattr(exc, "orig") and exc.orig is not None else exc  # SQLAlchemy wraps the driver's
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {text}"[:300] if text else type(cause).__name__


def show_config(
    settings: Settings, environ: Mapping[str, str], flags: Iterable[str], also_known: Iterable[str]
) -> None:
    """``ticker config``: every setting as NAME=value with where it came from; secrets masked; then problems."""
    rows = effective(settings, environ, flags)
    width = max(len(f"{name}={value}") for name, value, _ in rows)
    for name, value, source in rows:
        click.echo(f"{f'{name}={value}':<{width}}  # {source}")
    for name in unknown_names({k: v for k, v in environ.items() if k not in set(also_known)}):
        click.echo(f"warning: unknown setting {name}", err=True)
    checked(settings)
