"""A partnership's two acts outside its admin API: the snippets a partner pastes to embed an incident (the CLI,
the admin API and the desk), and ending it (the admin API and the desk), which closes its embeds' sockets on
every node."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from starlette.requests import Request

from ticker.config import Settings
from ticker.errors import Refused
from ticker.http.node import node
from ticker.http.origins import own_origin
from ticker.notices import close_partner
from ticker.store import partners as store
from ticker.store.audit import Actor
from ticker.store.partners import partner_info
from ticker.store.sql import Store


@dataclass(frozen=True)
class Snippets:
    """The HTML a partner pastes: the script embed, or an iframe with an optional resizer."""

    script: str
    iframe: str
    resizer: str

    @property
    def text(self) -> str:
        return (
            "<!-- Script embed (recommended) -->\n"
            f"{self.script}\n\n"
            "<!-- Or, where scripts are not allowed, an iframe; the resizer script lets it fit its content -->\n"
            f"{self.iframe}\n{self.resizer}\n"
        )


async def partner_snippets(store: Store, settings: Settings, slug: str, partner_name: str) -> Snippets:
    """Snippets for one incident on one partner's site (the CLI, the admin API and the newsroom desk)."""
    partner = await partner_info(store, partner_name)
    await store.incident(slug)  # NotFound for an unknown incident
    if not partner.covers(slug):
        raise Refused.invalid("incident", f"partner {partner.name!r} does not cover incident {slug!r}")
    base = settings.resolved_public_url()
    src = escape(f"{base}/embed/{slug}?{urlencode({'partner': partner.name})}", quote=True)
    return Snippets(
        script=f'<script src="{escape(base)}/static/embed.js" data-incident="{escape(slug)}" async></script>',
        iframe=(
            f'<iframe src="{src}" title="{escape(settings.site_name, quote=True)}" loading="lazy" '
            'style="width:100%;height:600px;border:0" data-ticker-embed></iframe>'
        ),
        resizer=(
            '<script>addEventListener("message",function(e){var d=e.data;'
            f'if(e.origin!=="{own_origin(settings)}"||!d||d.type!=="ticker:height")return;'
            'document.querySelectorAll("iframe[data-ticker-embed]").forEach(function(f){'
            'if(f.contentWindow===e.source)f.style.height=d.height+"px"})})</script>'
        ),
    )


async def end_partnership(request: Request, name: str, by: Actor) -> None:
    """Remove the partner (the API's DELETE and the desk's partners page) and close its embeds' sockets."""
    await store.remove_partner(node(request).store, name, by=by)
    node(request).origins.invalidate()
    close_partner(node(request).hub, name)
    await node(request).notices.partner_removed(name)
