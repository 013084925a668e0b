"""Where the pages, scripts and styles live: web/ beside the package in a checkout (and an editable install),
share/ticker/web under the environment's prefix once installed from a wheel (pyproject's data-files)."""

from __future__ import annotations

import sys
from pathlib import Path


def _web() -> Path:
    checkout = Path(__file__).resolve().parent.parent / "web"
    installed = Path(sys.prefix) / "share" / "ticker" / "web"
    return checkout if checkout.is_dir() else installed


WEB = _web()
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
