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


class _MeetingPoint:
    """An execute wrapper that waits at ``barrier`` before this thread's first write
    on one of ``tables``; ``passed`` once the barrier let every job through."""

    def __init__(
        self,
        barrier: threading.Barrier,
        tables: Iterable[str],
        outcome: Outcome,
        statements: Iterable[str] = (),
    ):
        self.barrier = barrier
        self.names = tuple(f'"{t}"' for t in tables)
        self.statements = tuple(statements)
        self.outcome = outcome
        self.reached = False
        self.passed = False

    def __call__(self, execute, sql, params, many, context):
        writes = _WRITE.search(sql) and any(n in sql for n in self.names)
        if not self.reached and (writes or any(s in sql for s in self.statements)):
            self.reached = True
            try:
                self.barrier.wait()
                self.passed = True
                with _COUNT_LOCK:
                    self.outcome.met += 1
            except threading.BrokenBarrierError:
                pass  # another job finished or failed without writing: go on alone
        return execute(sql, params, many, context)


def run_together(
    jobs: list[Callable[[], object]],
    *,
    meet_before_write: Iterable[str] = (),
    meet_before_statement: Iterable[str] = (),
) -> Outcome:
    """Run ``jobs`` at once; results in job order (None for a job that raised).

    The jobs meet before their first write on one of ``meet_before_write``'s tables,
    or before their first statement containing one of ``meet_before_statement``
    (for work that takes turns under a lock before it writes)."""
    tables = tuple(meet_before_write)
    statements = tuple(meet_before_statement)
    start = threading.Barrier(len(jobs), timeout=BARRIER_SECONDS)
    write = threading.Barrier(len(jobs), timeout=BARRIER_SECONDS)
    outcome = Outcome(results=[None] * len(jobs))

    def runner(index: int, job: Callable[[], object]) -> None:
        meeting = (
            _MeetingPoint(write, tables, outcome, statements) if tables or statements else None
        )
        try:
            hook = connection.execute_wrapper(meeting) if meeting else nullcontext()
            with hook:
                start.wait()
                outcome.results[index] = job()
        except BaseException as error:  # collected and re-raised in the test thread
            outcome.errors.append(error)
        finally:
            # Whoever still waits at the meeting point must not wait for a job that
            # will never get there. A job that met the others leaves the barrier be:
            # breaking it then would make a peer that met it too, but was not yet
            # scheduled to wake up, see it broken (and count one meeting, not two).
            if meeting is None or not meeting.passed:
                write.abort()
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome
