"""Ticker: live-update incident tickers for newsrooms."""

__version__ = "0.1.0"
