"""Two callers at the same instant, on PostgreSQL with real threads.

``run_together`` starts every job behind a barrier, each in its own thread and
so in its own database connection. With ``meet_before_write`` the threads also
meet again just before their first write or row lock on the named tables: by
then each has done all of its reads ("is there a feed yet?"), so a check-then-
create path is made to collide every time, not only when the scheduler happens
to interleave the two. A path that takes a lock first meets there and then runs
in turn, which is what makes it safe.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field

from django.db import connection

BARRIER_SECONDS = 20
_COUNT_LOCK = threading.Lock()
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b|\bFOR (NO KEY )?UPDATE\b", re.IGNORECASE)


@dataclass
class Outcome:
    results: list = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    # How many threads reached the meeting point together (all of them, when the
    # collision was forced; a job that never writes lets the others go on alone).
    met: int = 0


def _meeting_point(barrier: threading.Barrier, tables: Iterable[str], outcome: Outcome):
    names = tuple(f'"{t}"' for t in tables)
    reached = False

    def wrapper(execute, sql, params, many, context):
        nonlocal reached
        if not reached and _WRITE.search(sql) and any(name in sql for name in names):
            reached = True
            try:
                barrier.wait()
                with _COUNT_LOCK:
                    outcome.met += 1
            except threading.BrokenBarrierError:
                pass  # another job finished or failed without writing: go on alone
        return execute(sql, params, many, context)

    return wrapper


def run_together(
    jobs: list[Callable[[], object]], *, meet_before_write: Iterable[str] = ()
) -> Outcome:
    """Run ``jobs`` at once; results in job order (None for a job that raised)."""
    tables = tuple(meet_before_write)
    start = threading.Barrier(len(jobs), timeout=BARRIER_SECONDS)
    write = threading.Barrier(len(jobs), timeout=BARRIER_SECONDS)
    outcome = Outcome(results=[None] * len(jobs))

    def runner(index: int, job: Callable[[], object]) -> None:
        try:
            hook = (
                connection.execute_wrapper(_meeting_point(write, tables, outcome))
                if tables
                else nullcontext()
            )
            with hook:
                start.wait()
                outcome.results[index] = job()
        except BaseException as error:  # collected and re-raised in the test thread
            outcome.errors.append(error)
        finally:
            # Whoever still waits at the meeting point must not wait for this job.
            write.abort()
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome
