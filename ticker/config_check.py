"""Settings checked when a node starts: every ``TICKER_`` setting, its URLs, unknown names, secrets masked.

ticker.config reads the environment with the standard library only, because every command reads it and the ones
that only speak HTTP (``ticker post``) must not pay for importing pydantic (tests/test_cli.py). The check is
pydantic's, run where a node or a database command starts: ``ticker serve``, ``ticker config``, workers.

Each field gets a rule by its type (a count is never negative, a time is a positive finite number, text has no
control characters), and the fields that need more get explicit bounds below (``BOUNDS``). A field someone adds
to Settings is checked by its type's rule without a change here.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from functools import cache
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from annotated_types import Ge, Gt, Le
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from ticker.config import Settings
from ticker.media.providers import mastodon_hosts, overrides
from ticker.media.sizes import widths_of

PORT = (Ge(1), Le(65535))
AT_LEAST_ONE = (Ge(1),)


def _database_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ValueError(f"not a database URL ({exc})") from None
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ValueError(
            f"{parsed.drivername}:// is not supported: use postgresql+asyncpg:// (or postgres://) or sqlite:///PATH"
        )
    if parsed.drivername.startswith("postgresql") and not parsed.host:
        raise ValueError("a PostgreSQL URL needs a host, e.g. postgres://user:password@host:5432/ticker")
    return url


def _redis_url(url: str) -> str:
    from ticker.redis import SENTINEL_FORM, sentinel_address

    if sentinel_address(url) is not None:  # raises ValueError saying what is wrong with a broken one
        return url
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// Redis URL needs the socket's path")
        return url
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(
            "not a Redis URL: redis://host:6379/0, rediss://… (TLS), unix:///path/to/redis.sock or, through "
            f"Sentinel, {SENTINEL_FORM}"
        )
    _host_and_port(parts)
    if parts.path.strip("/") and not parts.path.strip("/").isdigit():
        raise ValueError("the path of a Redis URL is the database number, e.g. redis://host:6379/0")
    return url


def _public_url(url: str) -> str:
    """Our origin as readers see it: http(s), a host, nothing after it (pages compare it with Origin headers)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("not an http:// or https:// URL")
    _host_and_port(parts)
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise ValueError("an origin only, such as https://live.example.se: no path, query or user")
    return url


def _host_and_port(parts: Any) -> None:
    try:
        port = parts.port  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        raise ValueError("its port is not a number from 1 to 65535") from None
    if not parts.hostname or port == 0:
        raise ValueError("it needs a host (and, if given, a port from 1 to 65535)")


def _push_services(text: str) -> str:
    from ticker.push.subscriptions import service_hosts

    if not service_hosts(text):
        raise ValueError("name at least one push service's host, e.g. fcm.googleapis.com")
    return text


def _push_contact(contact: str) -> str:
    """VAPID's "sub" (RFC 8292): how a push service's operator reaches ours; "" means TICKER_PUBLIC_URL."""
    if contact and not re.match(r"^(mailto:[^@\s]+@[^@\s]+|https://[^/\s]+\S*)$", contact):
        raise ValueError("a mailto: address or an https:// URL, e.g. mailto:webb@example.se")
    return contact


def _card_setting(value: str, what: str) -> str:
    """provider=URL pairs (ticker.media.providers): a known provider each, an http(s) address each."""
    overrides(value, what)
    return value


def _mastodon_hosts(value: str) -> str:
    mastodon_hosts(value)
    return value


def _ad_url(url: str) -> str:
    """The ad server's slot page: http(s) and a host (its origin joins the pages' frame-src)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("not an http:// or https:// URL")
    _host_and_port(parts)
    return url


def _networks(value: str) -> str:
    """Addresses or networks, comma-separated (ticker.http.client_address)."""
    import ipaddress

    for part in filter(None, (p.strip() for p in value.split(","))):
        if part == "*":  # any peer: right only where nothing but the proxy can reach the nodes
            continue
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or network such as 10.0.0.0/8") from None
    return value


NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
HOST = r"^[A-Za-z0-9.:_\-\[\]%]+$"  # a name, an IPv4 or an IPv6 address (0.0.0.0 and :: listen everywhere)
PATTERN_TEXT = {
    NO_CONTROL: "no control characters (line breaks, tabs) allowed",
    HOST: "not a host name or IP address",
}

# Fields whose type's rule is not enough. Each value is the metadata of an Annotated type.
BOUNDS: dict[str, tuple[Any, ...]] = {
    "port": PORT,
    "host": (Field(pattern=HOST),),
    "database_url": (AfterValidator(_database_url),),
    "redis_url": (AfterValidator(_redis_url),),
    "public_url": (AfterValidator(_public_url),),
    "site_name": (Field(min_length=1, pattern=NO_CONTROL),),
    "log_level": (),  # typed below as a choice
    "log_format": (),
    # A count of zero would refuse or drop everything: at least one.
    "max_body_bytes": (Ge(1024),),  # the smallest API request is larger than a few bytes
    "import_max_bytes": (Ge(64 * 1024),),  # an incident of a few entries is a few kilobytes
    "transfer_batch": AT_LEAST_ONE,
    "max_entry_chars": AT_LEAST_ONE,
    "max_json_depth": (Ge(3),),  # our own bodies nest two levels
    "idempotency_ttl_seconds": AT_LEAST_ONE,
    "max_partial_requests": AT_LEAST_ONE,
    "session_seconds": (Ge(60),),
    "login_max_failures": AT_LEAST_ONE,
    "password_min_chars": (Ge(8),),  # shorter is no password policy at all
    "password_reset_seconds": (Ge(60), Le(30 * 24 * 3600)),  # a link that outlives a month is a standing key
    "audit_page_size": (Ge(1), Le(1000)),
    "max_connections": AT_LEAST_ONE,
    "ws_max_message_bytes": (Ge(256),),  # a subscribe message is up to ~200 bytes
    "max_subscriptions": AT_LEAST_ONE,
    "send_buffer_bytes": (Ge(4096),),  # at least one frame of an entry
    "join_buffer_events": AT_LEAST_ONE,
    "node_history": AT_LEAST_ONE,
    "broker_history": AT_LEAST_ONE,
    "max_replay": AT_LEAST_ONE,
    "relay_batch": AT_LEAST_ONE,
    "page_entries": AT_LEAST_ONE,
    "search_max_chars": AT_LEAST_ONE,
    "search_results": AT_LEAST_ONE,
    "front_incidents": AT_LEAST_ONE,
    "max_partner_origins": AT_LEAST_ONE,
    "embed_entries": AT_LEAST_ONE,
    "embed_max_entries": AT_LEAST_ONE,
    "sources_max": AT_LEAST_ONE,
    "sources_min_interval_seconds": AT_LEAST_ONE,  # the floor is the operator's choice (default 60 s)
    "sources_backoff_max_seconds": AT_LEAST_ONE,
    "sources_keep_hours": AT_LEAST_ONE,
    "sources_panel_items": AT_LEAST_ONE,
    "ad_url": (AfterValidator(_ad_url),),
    "swish_number": (Field(pattern=r"^[0-9]{5,15}$"),),
    "swish_message": (Field(max_length=50, pattern=NO_CONTROL),),  # the Swish app's message holds 50 characters
    "trusted_proxies": (AfterValidator(_networks),),
    "tips_per_client": AT_LEAST_ONE,
    "tips_window_seconds": AT_LEAST_ONE,
    "tip_max_chars": AT_LEAST_ONE,
    "tip_contact_max_chars": AT_LEAST_ONE,
    "tip_form_seconds": (Ge(60),),  # a reader needs a while to write a tip
    "tips_keep_days": (Ge(1), Le(3650)),
    "tips_desk_items": AT_LEAST_ONE,
    "fetch_max_bytes": (Ge(1024),),
    "card_timeout_seconds": (Le(30),),  # a post waits for its cards: longer is a post that hangs
    "cards_per_entry": (Le(20),),
    "card_endpoints": (AfterValidator(lambda v: _card_setting(v, "endpoint")),),
    "card_players": (AfterValidator(lambda v: _card_setting(v, "player origin")),),
    "card_mastodon_hosts": (AfterValidator(_mastodon_hosts),),
    "compress_brotli_quality": (Le(11),),  # brotli's own range, 0–11
    "compress_gzip_level": (Ge(1), Le(9)),  # zlib's, 1–9 (0 would store, not compress)
    "request_id_max_chars": (Ge(8), Le(1024)),  # a proxy's ids are 32 to 64 characters
    "push_services": (AfterValidator(_push_services),),
    "push_contact": (AfterValidator(_push_contact),),
    "push_max_subscriptions": AT_LEAST_ONE,
    "push_ttl_seconds": (Le(28 * 24 * 3600),),  # 0: only to a browser that is online; push services keep four weeks
    "push_concurrency": (Ge(1), Le(1000)),
    "push_batch": AT_LEAST_ONE,
    "push_max_attempts": AT_LEAST_ONE,
    "photo_max_bytes": (Ge(64 * 1024),),  # a phone's photo scaled down by the desk is a few hundred kilobytes
    "photo_max_pixels": (Ge(1_000_000),),  # below a megapixel a newsroom's photo would be refused
    "photo_widths": (AfterValidator(widths_of),),
    "photo_max_per_entry": (Ge(1), Le(100)),
    "photo_uploads_per_minute": AT_LEAST_ONE,
    "photo_text_max_chars": (Ge(50), Le(10_000)),  # room for a sentence of alt text
    "photo_client_long_side": (Ge(320), Le(8192)),
    "photo_workers": (Ge(1), Le(64)),
}
CHOICES: dict[str, Any] = {
    "log_level": Literal["debug", "info", "warning", "error"],
    "log_format": Literal["json", "text"],
}

# The rule for each type a field may have; a type not listed is checked as it is.
TYPE_RULES: dict[Any, tuple[Any, ...]] = {
    int: (Ge(0),),  # counts, sizes and whole seconds; 0 where it means none (hsts_seconds, cache_max_age)
    float: (Gt(0), Field(allow_inf_nan=False)),  # intervals and timeouts: 0 would spin, inf would never come
    str: (Field(pattern=NO_CONTROL),),
}

# TICKER_ names that are not settings but are read by the ticker command or by the tools around it.
OTHER_NAMES = {"TICKER_URL", "TICKER_TOKEN", "TICKER_HTTP_PORT", "TICKER_PYTHON", "TICKER_SCREENSHOTS"}
OTHER_PREFIXES = ("TICKER_TEST_", "TICKER_BENCH_")  # the tests' and benchmarks' own

SECRET_NAME = re.compile(r"(?:^|_)(?:token|secret|password|key)$")  # a field holding a secret (none yet)
SECRET_PARAM = re.compile(r"pass|secret|token|key", re.IGNORECASE)  # a URL query parameter holding one


class SettingsError(ValueError):
    """Settings that a node cannot start with; the message is one line naming each setting and its problem."""


class _Rules(BaseModel):
    """Base of the generated model: cross-field rules."""

    model_config = ConfigDict(strict=True, extra="forbid")

    @model_validator(mode="after")
    def _together(self) -> _Rules:
        values = self.__dict__
        problems = []
        if values["front_incidents"] > values["max_subscriptions"]:
            problems.append(
                "TICKER_FRONT_INCIDENTS must not exceed TICKER_MAX_SUBSCRIPTIONS (the front page follows each)"
            )
        if values["embed_entries"] > values["embed_max_entries"]:
            problems.append("TICKER_EMBED_ENTRIES must not exceed TICKER_EMBED_MAX_ENTRIES")
        if values["push_retry_seconds"] > values["push_retry_max_seconds"]:
            problems.append("TICKER_PUSH_RETRY_SECONDS must not exceed TICKER_PUSH_RETRY_MAX_SECONDS")
        if problems:
            raise ValueError("; ".join(problems))
        return self


@cache
def _model() -> type[BaseModel]:
    """A pydantic model with one field per Settings field: its type, annotated with its rules."""
    hints = typing.get_type_hints(Settings)
    definitions: dict[str, Any] = {}
    for f in fields(Settings):
        kind = hints[f.name]
        optional = type(None) in typing.get_args(kind)  # X | None: the rules are X's; None is always allowed
        if optional:
            (kind,) = (t for t in typing.get_args(kind) if t is not type(None))
        rules = TYPE_RULES.get(kind, ()) + BOUNDS.get(f.name, ())  # the explicit bound last: it wins
        if f.name in CHOICES:
            kind, rules = CHOICES[f.name], ()
        if rules:
            kind = Annotated.__class_getitem__((kind, *rules))  # type: ignore[attr-defined]
        definitions[f.name] = (kind | None if optional else kind, ...)
    model: type[BaseModel] = create_model("Settings", __base__=_Rules, **definitions)
    return model


def check(settings: Settings) -> Settings:
    """The same settings, or SettingsError naming every setting that is wrong and why, on one line."""
    try:
        _model().model_validate(asdict(settings))
    except ValidationError as exc:
        raise SettingsError("; ".join(_problem(settings, e) for e in exc.errors())) from None
    return settings


def _problem(settings: Settings, error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch":
        message = PATTERN_TEXT.get(error["ctx"]["pattern"], message)
    if not error["loc"]:
        return message
    name = str(error["loc"][0])
    return f"TICKER_{name.upper()}={shown(name, getattr(settings, name))}: {message}"


def unknown_names(environ: Mapping[str, str]) -> list[str]:
    """Each ``TICKER_`` variable that is no setting, with the setting it was probably meant to be."""
    known = [f"TICKER_{f.name.upper()}" for f in fields(Settings)]
    found = []
    for name in sorted(environ):
        if not name.startswith("TICKER_") or name in known or name in OTHER_NAMES or name.startswith(OTHER_PREFIXES):
            continue
        close = difflib.get_close_matches(name.removeprefix("TICKER_"), [k.removeprefix("TICKER_") for k in known], 1)
        found.append(f"{name} (did you mean TICKER_{close[0]}?)" if close else name)
    return found


def shown(name: str, value: object) -> str:
    """A setting's value as it may be printed or logged: passwords in URLs and secret settings masked."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as TICKER_ variables are written
    if SECRET_NAME.search(name) and value:
        return "***"
    text = str(value)
    text = masked_url(text) if "://" in text else text
    return text if text.isprintable() else repr(text)  # a line break in a value must not break the line


def masked_url(url: str) -> str:
    """``url`` without its password, nor the values of query parameters that hold secrets."""
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        return url.split("://", 1)[0] + "://***"  # too broken to take apart: show only what kind of URL it was
    netloc = parts.netloc
    if has_password:
        credentials, _, host = netloc.rpartition("@")
        netloc = f"{credentials.split(':', 1)[0]}:***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def effective(settings: Settings, environ: Mapping[str, str], flags: Iterable[str] = ()) -> list[tuple[str, str, str]]:
    """(name, value as shown, where it came from: default, environment or flag) for every setting."""
    defaults = Settings(data_dir=settings.data_dir)
    given = set(flags)
    rows = []
    for f in fields(Settings):
        name = f"TICKER_{f.name.upper()}"
        value = getattr(settings, f.name)
        if f.name in given:
            source = "flag"
        elif environ.get(name):
            source = "environment"
        else:
            source = "default" if value == getattr(defaults, f.name) else "derived"
        rows.append((name, shown(f.name, value), source))
    return rows
