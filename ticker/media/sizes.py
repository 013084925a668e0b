"""The photo variants' widths, read from ``TICKER_PHOTO_WIDTHS``; standard library only, as the settings check
(ticker.config_check) reads it before a node starts."""

from __future__ import annotations

MIN_WIDTH = 16
MAX_WIDTH = 8192


def widths_of(setting: str) -> tuple[int, ...]:
    """``"320,640,1024,1600"`` as sorted whole numbers; the largest bounds a photo's width."""
    try:
        widths = sorted({int(part) for part in setting.split(",") if part.strip()})
    except ValueError:
        raise ValueError("the widths must be whole numbers separated by commas, e.g. 320,640,1024,1600") from None
    if not widths or widths[0] < MIN_WIDTH or widths[-1] > MAX_WIDTH:
        raise ValueError(f"the widths must be from {MIN_WIDTH} to {MAX_WIDTH} pixels, e.g. 320,640,1024,1600")
    return tuple(widths)
