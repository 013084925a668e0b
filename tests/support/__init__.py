"""Helpers for tests that need real services: Redis, PostgreSQL, Ticker nodes and a browser."""
