"""Entry bodies: the small safe subset of HTML reporters may use, cleaned on the way in (by nh3/ammonia).

A bare address in the text (``https://…``, outside a link) becomes a link, so that a reporter who pastes one gets
a link, and a card when it is a provider's on a line of its own (ticker.media.cards). Every link a reporter wrote
is user content: ``rel="noopener nofollow ugc"``.
"""

from __future__ import annotations

import html
import re

import nh3

TAGS = {"p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li", "blockquote"}
ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}
_TAG = re.compile(r"<[a-zA-Z/!]")
_BLOCK_END = re.compile(r"</(?:p|li|blockquote)>|<br\s*/?>")
LINK_REL = "noopener nofollow ugc"
# A bare address in sanitised text: up to white space or markup; trailing punctuation is the sentence's.
_BARE_URL = re.compile(r"https?://[^\s<>\"]+")
_TRAILING = ".,;:!?)]}'"
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")


def clean_html(body: str) -> str:
    """Sanitised HTML; text without any tag is wrapped in paragraphs, one per blank-line block."""
    if not _TAG.search(body):
        blocks = [b.strip() for b in body.replace("\r\n", "\n").split("\n\n") if b.strip()]
        body = "".join(f"<p>{html.escape(b).replace(chr(10), '<br>')}</p>" for b in blocks)
    cleaned = nh3.clean(
        body,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    ).strip()
    return _linked(cleaned) if "://" in cleaned else cleaned


def _linked(markup: str) -> str:
    """Sanitised ``markup`` with each bare http(s) address outside a link made a link."""
    out: list[str] = []
    inside_link = False
    for part in _TAG_OR_TEXT.split(markup):
        if part.startswith("<"):
            if part.startswith("<a "):
                inside_link = True
            elif part == "</a>":
                inside_link = False
            out.append(part)
        elif inside_link or "://" not in part:
            out.append(part)
        else:
            out.append(_BARE_URL.sub(_link, part))
    return "".join(out)


def _link(match: re.Match[str]) -> str:
    text = match[0]
    address = text.rstrip(_TRAILING)
    if address.endswith("&amp") or address.endswith("&"):  # an entity cut by the strip: keep it whole
        address = text
    rest = text[len(address) :]
    return f'<a href="{address}" rel="{LINK_REL}">{address}</a>{rest}' if len(address) > 8 else text


def text_of(markup: str) -> str:
    """Plain text of sanitised HTML (for feeds, search and structured data)."""
    text = nh3.clean(_BLOCK_END.sub("\n", markup), tags=set())
    return re.sub(r"\n{2,}", "\n", html.unescape(text)).strip()
