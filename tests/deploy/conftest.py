"""Fixtures of the deployment tests: a real PostgreSQL (tests/postgres.py)."""

from tests.postgres import postgres, postgres_url

__all__ = ["postgres", "postgres_url"]
