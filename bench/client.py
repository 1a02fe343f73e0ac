"""A persistent HTTP/1.1 client (``http.client`` keep-alive) and latency statistics."""

from __future__ import annotations

import http.client
import json
import statistics
import time
from dataclasses import dataclass, field

SCIM_JSON = "application/scim+json"


class Client:
    """One keep-alive connection to a server on loopback; reconnects if the server closed it."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 60):
        self.port = port
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body=None) -> tuple[int, bytes, dict]:
        """Send one request; return (status, raw body, headers)."""
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = SCIM_JSON
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                return response.status, raw, dict(response.getheaders())
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def timed(self, method: str, path: str, body=None) -> tuple[float, int, bytes]:
        """Send one request; return (seconds, status, raw body)."""
        started = time.perf_counter()
        status, raw, _ = self.request(method, path, body)
        return time.perf_counter() - started, status, raw

    def close(self) -> None:
        self.conn.close()


@dataclass
class Series:
    """Latencies of one phase, plus its wall time and the answers that were not expected."""

    name: str
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0

    def add(self, seconds: float, ok: bool = True) -> None:
        self.latencies.append(seconds)
        if not ok:
            self.errors += 1

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        n = len(lat)
        if not n:
            return {"requests": 0, "errors": self.errors}
        return {
            "requests": n,
            "errors": self.errors,
            "wall_s": round(self.wall, 3),
            "throughput_rps": round(n / self.wall, 1) if self.wall else None,
            "p50_ms": round(_percentile(lat, 50) * 1000, 3),
            "p99_ms": round(_percentile(lat, 99) * 1000, 3),
            "mean_ms": round(statistics.fmean(lat) * 1000, 3),
            "max_ms": round(lat[-1] * 1000, 3),
        }


def _percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ordered list."""
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]
