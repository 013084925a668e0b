"""Entry bodies: the small safe subset of HTML reporters may use, cleaned on the way in (by nh3/ammonia)."""

from __future__ import annotations

import html
import re

import nh3

TAGS = {"p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li", "blockquote"}
ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}
_TAG = re.compile(r"<[a-zA-Z/!]")
_BLOCK_END = re.compile(r"</(?:p|li|blockquote)>|<br\s*/?>")


def clean_html(body: str) -> str:
    """Sanitised HTML; text without any tag is wrapped in paragraphs, one per blank-line block."""
    if not _TAG.search(body):
        blocks = [b.strip() for b in body.replace("\r\n", "\n").split("\n\n") if b.strip()]
        body = "".join(f"<p>{html.escape(b).replace(chr(10), '<br>')}</p>" for b in blocks)
    return nh3.clean(
        body,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    ).strip()


def text_of(markup: str) -> str:
    """Plain text of sanitised HTML (for feeds, search and structured data)."""
    text = nh3.clean(_BLOCK_END.sub("\n", markup), tags=set())
    return re.sub(r"\n{2,}", "\n", html.unescape(text)).strip()
