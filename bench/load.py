"""A small keep-alive HTTP/1.1 load generator, for when wrk cannot be had.

No dependency beyond the standard library: one thread and one TCP connection
per simulated client, each sending its requests one after another on that
connection (like wrk's connections; blocking sockets in threads measured about
three times faster here than asyncio streams). It gives requests per second, the
status codes seen, transport errors and latency percentiles. It is slower than
wrk (Python threads share one interpreter lock), so on a small machine it takes
a larger share of the CPU than wrk would: on this machine's two cores it reached
about half wrk's rate on the bare view against sync workers (which close every
connection) and about 85% against threaded workers (keep-alive). The bench
records which tool measured each figure.

Used as a library (``run_load``) by the bench steps that need a different
request each time (signed-in parents booking, a mixed crawl), and from the
command line as wrk's stand-in::

    python -m bench.load -c 4 -d 10 http://127.0.0.1:8750/bench/bare/
"""

from __future__ import annotations

import argparse
import itertools
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

TOOL = "bench/load.py (threaded keep-alive HTTP/1.1 client)"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class LoadResult:
    """What a run measured: every request's status and latency."""

    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # transport errors by kind
    latencies_ms: list[float] = field(default_factory=list)
    tool: str = TOOL

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
        return ordered[rank - 1]

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        errors = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.errors.items()))
        return (
            f"{self.requests} requests in {self.seconds:.1f} s = {self.rps:,.1f}/s; "
            f"p50 {self.percentile(50):.0f} ms, p95 {self.percentile(95):.0f} ms, "
            f"p99 {self.percentile(99):.0f} ms; statuses {codes or 'none'}"
            + (f"; transport errors {errors}" if errors else "")
        )


class _Connection:
    """One keep-alive connection (a blocking socket); reopened when the server closes it."""

    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.file = None

    def open(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        if self.sock is not None:
            self.file.close()
            self.sock.close()
        self.sock = self.file = None

    def send(self, request: Request) -> Response:
        if self.sock is None:
            self.open()
        head = [f"{request.method} {request.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in request.headers.items()]
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(request.body)}")
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.body)
        return self._read()

    def _read(self) -> Response:
        file = self.file
        status_line = file.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        cookies: list[str] = []
        while True:
            line = file.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "set-cookie":
                cookies.append(value.strip())
            headers[name] = value.strip()
        if cookies:
            headers["set-cookie"] = "\n".join(cookies)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(file.readline().split(b";")[0], 16)
                if size == 0:
                    while file.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(_exactly(file, size))
                file.readline()
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = _exactly(file, int(headers["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = file.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, body)


def _exactly(file, size: int) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise ConnectionResetError("the server closed the connection mid-body")
    return data


def run_load(
    base_url: str,
    make_request: Callable[[int], Request],
    *,
    connections: int,
    seconds: float | None = None,
    total: int | None = None,
    start_together: bool = False,
    timeout: float = 60.0,
    on_response: Callable[[int, Request, Response], None] | None = None,
) -> LoadResult:
    """Send ``make_request(0), make_request(1), …`` over ``connections`` keep-alive
    connections (one thread each), until ``total`` requests were sent or
    ``seconds`` have passed.

    With ``start_together`` every connection is opened first and the first
    requests leave together, so ``connections`` requests are really in flight at
    once (a race). ``on_response`` is called in the sending thread.
    """
    if seconds is None and total is None:
        raise ValueError("give seconds or total")
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    indexes = itertools.count()
    limit = total if total is not None else 2**62
    barrier = threading.Barrier(connections + 1)
    deadline = [float("inf")]
    results: list[LoadResult] = []

    def client() -> None:
        mine = LoadResult()
        results.append(mine)
        conn = _Connection(host, port, timeout)
        if start_together:
            try:
                conn.open()
            except OSError as error:
                mine.errors[type(error).__name__] += 1
        barrier.wait()
        while True:
            index = next(indexes)  # atomic under the GIL
            if index >= limit or time.perf_counter() >= deadline[0]:
                break
            request = make_request(index)
            started = time.perf_counter()
            try:
                response = conn.send(request)
            except (OSError, ValueError, IndexError) as error:
                mine.errors[type(error).__name__] += 1
                conn.close()
                continue
            mine.latencies_ms.append((time.perf_counter() - started) * 1000)
            mine.statuses[response.status] += 1
            if on_response is not None:
                on_response(index, request, response)
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    if seconds is not None:
        deadline[0] = started + seconds
    for thread in threads:
        thread.join()
    result = LoadResult(seconds=time.perf_counter() - started)
    for part in results:
        result.statuses += part.statuses
        result.errors += part.errors
        result.latencies_ms += part.latencies_ms
    return result


def get_paths(paths: Callable[[int], str] | str) -> Callable[[int], Request]:
    """A request maker for plain GETs: one path, or a function of the request's index."""
    if isinstance(paths, str):
        fixed = Request("GET", paths)
        return lambda _index: fixed
    return lambda index: Request("GET", paths(index))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("-c", "--connections", type=int, default=4)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    args = parser.parse_args()
    parts = urlsplit(args.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    result = run_load(
        args.url, get_paths(path or "/"), connections=args.connections, seconds=args.duration
    )
    print(result.summary())
    print(f"Requests/sec: {result.rps:.2f}")


if __name__ == "__main__":
    main()
