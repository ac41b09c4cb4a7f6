"""gunicorn config for `BENCH_LEAK_TRACE=1` (bench/leak.py): the worker runs under
tracemalloc; its first SIGUSR2 takes a baseline snapshot, each later one writes the
allocation sites that grew most since the baseline to /tmp/bench_leak_<pid>.txt."""

import os
import signal
import tracemalloc

_baseline = []


def _snapshot(_signum, _frame):
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    if not _baseline:
        _baseline.append(snapshot)
        return
    top = snapshot.compare_to(_baseline[0], "traceback")[:25]
    with open(f"/tmp/bench_leak_{os.getpid()}.txt", "w", encoding="utf-8") as out:
        for stat in top:
            out.write(f"{stat}\n")
            for line in stat.traceback.format()[-12:]:
                out.write(f"    {line}\n")


def post_worker_init(worker):
    tracemalloc.start(15)
    signal.signal(signal.SIGUSR2, _snapshot)
