"""Stop `make test` at once, with a hint, when PostgreSQL or Redis is unreachable."""

import os
import socket
import sys
from urllib.parse import urlparse


def reachable(url: str, default_port: int) -> bool:
    parts = urlparse(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


problems = []
database_url = os.environ["DATABASE_URL"]
redis_url = os.environ["REDIS_URL"]
if not database_url.startswith("postgres"):
    problems.append(f"DATABASE_URL must point at PostgreSQL for the tests (got {database_url!r}).")
elif not reachable(database_url, 5432):
    problems.append(f"PostgreSQL is not reachable at {database_url}.")
if not reachable(redis_url, 6379):
    problems.append(f"Redis is not reachable at {redis_url}.")

if problems:
    print("\n".join(problems), file=sys.stderr)
    print(
        "The tests run against real PostgreSQL and Redis. Start them, for example:\n"
        "  docker-compose up -d db redis\n"
        "or set DATABASE_URL and REDIS_URL to servers you have.",
        file=sys.stderr,
    )
    sys.exit(1)
