"""A throw-away PostgreSQL database for a test, on the server scripts/postgres.sh starts."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest

CI = os.environ.get("CI") == "true"


@contextmanager
def fresh_database(prefix: str):
    """Yield the URL of a new, empty database (dropped afterwards); skip, or fail in CI, without a server."""
    url = os.environ.get("NECTARINE_TEST_POSTGRES_URL")
    if not url:
        if CI:
            pytest.fail("NECTARINE_TEST_POSTGRES_URL is not set: .ci/run must start PostgreSQL (scripts/postgres.sh)")
        pytest.skip("no PostgreSQL here; run the suite through scripts/test.sh, which starts one "
                    "(or eval \"$(bash scripts/postgres.sh)\")")
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    try:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
