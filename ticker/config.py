"""Settings: one frozen object, read from the environment (``TICKER_*``) and CLI flags."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    # Where things live.
    data_dir: str = ""  # the embedded database's directory; "": default_data_dir(), the same from any directory
    database_url: str = ""  # "": the SQLite file ticker.db in data_dir
    redis_url: str | None = None  # None: the in-process broker (single process only)
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # our own origin as readers see it; default http://host:port
    site_name: str = "Ticker"
    auto_migrate: bool = True  # `serve` upgrades the schema at start-up
    hsts_seconds: int = 365 * 24 * 3600  # Strict-Transport-Security max-age when public_url is https; 0: none

    # HTTP limits.
    max_body_bytes: int = 64 * 1024
    import_max_bytes: int = 16 * 1024 * 1024  # an incident's file sent to POST /api/incidents/import
    transfer_batch: int = 1000  # rows an incident's export or import reads or writes at a time (ticker incident)
    max_entry_chars: int = 10_000
    max_json_depth: int = 32  # deepest nesting of a JSON body or /live message (ours nest at most 2 levels)
    idempotency_ttl_seconds: int = 24 * 3600
    # Slow clients (ticker.partial_requests): a request's head and its body must each arrive in time (408 and
    # closed if not), and at most this many connections may be in the middle of sending one (the oldest goes).
    header_timeout_seconds: float = 5.0  # from the connection's opening (first request) or a request's first byte
    body_timeout_seconds: float = 30.0  # from the end of the head to the end of the body
    max_partial_requests: int = 10_000

    # The newsroom login.
    session_seconds: int = 12 * 3600  # a login lasts this long; then the desk asks to log in again
    login_max_failures: int = 5  # wrong passwords in a row before logins for that name are slowed down
    login_lockout_seconds: int = 60  # how long each further attempt then waits
    password_min_chars: int = 10  # a new password's least length (ticker.passwords; the commonest are refused too)
    password_reset_seconds: int = 24 * 3600  # how long an admin's one-time link to choose a new password works
    audit_page_size: int = 50  # rows per page of the desk's audit log (/desk/audit)

    # Websocket limits and timings.
    max_connections: int = 50_000
    ws_max_message_bytes: int = 4096
    # A reader's messages waiting to be handled besides one subscribe per incident it may follow (a page opens
    # with up to max_subscriptions of them at once); more closes it (1008).
    ws_max_pending_messages: int = 16
    max_subscriptions: int = 20
    send_buffer_bytes: int = 256 * 1024  # a reader whose unsent bytes pass this is closed (4000) and resumes
    join_buffer_events: int = 1000  # live events held for a reader while it catches up
    ping_interval: float = 20.0
    ping_timeout: float = 20.0

    # Resume.
    node_history: int = 256  # frames each node keeps per incident for cheap resumes
    broker_history: int = 10_000  # approximate MAXLEN of each Redis stream
    max_replay: int = 1_000  # a reader further behind gets a snapshot instead

    # Broker I/O bounds: a blocking read waits this long, and any Redis reply later than read + timeout means
    # the connection is dead (a stalled network or a frozen Redis), so the listener reconnects.
    broker_block_seconds: float = 5.0
    redis_timeout_seconds: float = 5.0

    # Relay.
    relay_sweep_seconds: float = 1.0
    relay_batch: int = 500

    # Reader pages, feeds and the SSE fallback (issue 5).
    page_entries: int = 50  # entries per page, per "Visa fler" and in the Atom feed
    cache_max_age: int = 5  # seconds a CDN or browser may reuse a page, feed or snapshot
    search_max_chars: int = 200
    search_results: int = 30
    front_incidents: int = 20  # live incidents on the front page (each followed live, so <= max_subscriptions)
    front_closed: int = 10
    front_refresh_seconds: float = 30.0  # how often an open front page looks for incidents opened since it loaded
    most_followed: int = 5
    presence_seconds: float = 5.0  # how often a node shares its viewer counts through Redis
    sse_heartbeat_seconds: float = 15.0

    # Partner embeds (issue 7, docs/embeds.md).
    partner_cache_seconds: float = 10.0  # how long a node trusts its cached partner list (origins, incidents)
    partner_counts_flush_seconds: float = 60.0  # how often embed reader counts are added to SQL
    max_partner_origins: int = 20
    embed_entries: int = 10  # entries an embed shows unless it asks for another number
    embed_max_entries: int = 50

    # Photos in entries and the lead photo (issue 15, docs/design.md "Photos"; ticker.media).
    photo_max_bytes: int = 15 * 1024 * 1024  # one uploaded photo (the desk scales a phone's photo down first)
    photo_max_pixels: int = 40_000_000  # width x height, read from the header before decoding (bombs)
    photo_widths: str = "320,640,1024,1600"  # the variants' widths; the largest bounds a photo's width
    photo_avif: bool = True  # AVIF variants beside WebP and JPEG (where Pillow has AVIF)
    photo_max_per_entry: int = 10  # photos in one entry's gallery
    photo_uploads_per_minute: int = 30  # photo uploads per user and minute, across nodes (429 past it)
    photo_text_max_chars: int = 500  # a photo's alt text, credit or caption
    photo_client_long_side: int = 2560  # the desk scales a photo's long side down to this before sending
    photo_workers: int = 2  # threads decoding and encoding photos on a node
    photo_queue: int = 8  # uploads waiting for a worker; more are refused with 503 and Retry-After
    media_dir: str = ""  # "": photos' files in the SQL database (every node sees them); else a shared directory
    media_cache_bytes: int = 32 * 1024 * 1024  # photo files a node keeps in memory to serve them again

    # Tips from public sources on the desk (issue 17, docs/sources.md).
    sources_max: int = 20  # sources a newsroom may configure
    sources_min_interval_seconds: int = 60  # no source is asked more often than this, whatever its own interval
    sources_lease_seconds: float = 30.0  # the polling node's lease; another node takes over once it runs out
    sources_backoff_max_seconds: int = 3600  # a failing source waits twice as long after each failure, at most this
    sources_keep_hours: int = 72  # an item is kept this long after it happened (or, without a time, was first seen)
    sources_panel_items: int = 100  # newest items the desk's "Händelser" panel shows
    fetch_timeout_seconds: float = 10.0  # a whole answer from another server, redirects included
    fetch_max_bytes: int = 2 * 1024 * 1024  # largest answer read from another server
    fetch_max_redirects: int = 3
    fetch_allow_loopback: bool = False  # tests' fixture servers only: never private or other internal addresses
    # Link cards (issue 15, ticker.media.cards): a provider's link on a line of its own in an entry becomes a card.
    card_timeout_seconds: float = 3.0  # an entry's cards, thumbnails included, are made within this or stay links
    cards_per_entry: int = 4  # links of one entry that may become cards (0: none); the others stay plain links
    card_endpoints: str = ""  # provider=URL,…: where a provider's card data is asked for instead of its own address
    card_players: str = ""  # provider=ORIGIN,…: where a provider's player is loaded from instead of its own
    card_mastodon_hosts: str = "mastodon.social,mastodon.nu"  # Mastodon servers whose posts become cards

    # Web Push alerts for readers who follow an incident ("Bevaka", issue 16, docs/reader.md; ticker.push).
    # Push services a browser's subscription may name (a host, or a domain its subdomains are under): a reader
    # gives us the address we POST to, so only the browsers' own push services are ever sent to.
    push_services: str = "fcm.googleapis.com,updates.push.services.mozilla.com,web.push.apple.com,notify.windows.com"
    push_contact: str = ""  # VAPID's "sub" (RFC 8292): mailto:… or https://…; "": TICKER_PUBLIC_URL
    push_max_subscriptions: int = 100_000  # followers per incident (409 past it)
    push_alerts_per_hour: int = 6  # alerts per incident in any hour; more are held back (an editor may send urgent)
    push_ttl_seconds: int = 4 * 3600  # how long a push service keeps an alert for a browser that is offline
    push_concurrency: int = 50  # requests to push services at once, per node
    push_batch: int = 200  # deliveries a node claims at a time
    push_timeout_seconds: float = 10.0  # one request to a push service
    push_max_attempts: int = 8  # a delivery that failed this often (5xx, 429, no answer) is given up
    push_retry_seconds: float = 5.0  # the wait after a delivery's first failure; it doubles with each failure
    push_retry_max_seconds: float = 600.0  # the longest wait between two attempts
    push_sweep_seconds: float = 1.0  # how often a node looks for alerts to send

    # Ads and support on reader pages (ticker.http.ads, docs/reader.md "Ads and support"); each off until set.
    ad_url: str | None = None  # the ad server's slot page, framed sandboxed; its origin joins the pages' frame-src
    ad_every_entries: int = 0  # an ad slot after every this many entries; 0: none
    ad_partners: str = ""  # partners (names, comma-separated) whose embeds show the ad slots and the support box
    swish_number: str | None = None  # the support box's Swish number; unset: no box
    swish_message: str = "Gåva"  # the payment's message, prefilled (the reader may change it)

    # Readers' tips and questions (ticker.tips, docs/reader.md "Tips and questions").
    trusted_proxies: str = ""  # proxies (addresses, networks or *) whose X-Forwarded-For and -Proto are believed
    tips_per_client: int = 5  # tips one client address may send per tips_window_seconds
    tips_window_seconds: int = 3600
    tip_max_chars: int = 2000  # a tip's text
    tip_contact_max_chars: int = 200  # its name and its contact details, each
    tip_form_seconds: int = 2 * 3600  # a form's token works this long after the page was made
    tips_keep_days: int = 30  # a tip (text, name, contact, photo) is deleted this long after it arrived
    tips_desk_items: int = 100  # newest open tips the desk's queue shows

    # Compression (ticker.http.compression; /static keeps its files compressed at the best level instead).
    compress_min_bytes: int = 1024  # smaller bodies are sent as they are: the saving would not pay for the work
    compress_brotli_quality: int = 5  # 0–11; 5: the reader page in 0.65 ms, 10 % smaller than gzip
    compress_gzip_level: int = 6  # 1–9

    # Metrics and the nodes' status page (docs/deploy.md, "Metrics").
    metrics_token: str | None = None  # the bearer token /metrics asks for; unset: /metrics answers 404
    metrics_sync_seconds: float = 1.0  # under --workers N: how often each worker writes its gauges for a scrape
    node_stats_seconds: float = 2.0  # how often a node shares its figures for /desk/status (through Redis)

    # Running in production (docs/deploy.md): logs, health checks.
    log_level: str = "info"  # debug | info | warning | error; debug adds a line per closed reader
    log_format: str = "json"  # json: one object per line, for a log collector | text: logfmt, for a terminal
    access_log: bool = False  # one line per HTTP request (method, path, status, time, request id)
    node_name: str = ""  # this node in every log line; "": the host's name and the process id
    request_id_max_chars: int = 128  # a longer (or unsafe) X-Request-ID is replaced by one the node makes
    ready_timeout_seconds: float = 2.0  # /readyz: how long SQL and Redis may take to answer before it says 503
    database_connect_timeout_seconds: float = 10.0  # `ticker serve` gives up on a database that does not answer

    def __post_init__(self) -> None:
        # Resolved once, so that every command of one installation finds the same database wherever it is run.
        if not self.data_dir:
            object.__setattr__(self, "data_dir", default_data_dir(os.environ))
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{Path(self.data_dir) / 'ticker.db'}")
        object.__setattr__(self, "database_url", async_driver(self.database_url))

    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``TICKER_<FIELD>`` variables; explicit overrides (CLI flags) win over the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"TICKER_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, str(f.type), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


# The async driver for a URL that names none: postgres:// as Heroku-style providers give it, sqlite:// by habit.
ASYNC_DRIVERS = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


def async_driver(url: str) -> str:
    """``url`` with the async driver Ticker uses when it names a database but no driver."""
    scheme, sep, rest = url.partition("://")
    driver = ASYNC_DRIVERS.get(scheme.lower()) if sep else None
    return f"{driver}://{rest}" if driver else url


def default_data_dir(environ: Mapping[str, str]) -> str:
    """The per-user data directory: $XDG_DATA_HOME/ticker (~/.local/share/ticker) on Linux, the platform's own
    on macOS and Windows."""
    if sys.platform == "win32":
        base = environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "ticker")


def _parse(name: str, type_name: str, raw: str) -> Any:
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
    except ValueError:
        raise ValueError(f"TICKER_{name.upper()}={raw!r} is not a valid {type_name}") from None
    return raw
