"""Slow down password guessing: a few failed logins per address and name, then a pause."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginThrottle:
    def __init__(self, attempts: int = 5, window_s: float = 600.0) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and now - failures[0] > self.window_s:
            failures.popleft()
        return failures

    def wait_seconds(self, address: str, name: str) -> int:
        """0 when a login may be tried now, else the seconds until the next try."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent((address, name.lower()), now)
            if len(failures) < self.attempts:
                return 0
            return int(self.window_s - (now - failures[0])) + 1

    def failed(self, address: str, name: str) -> None:
        with self._lock:
            self._failures[(address, name.lower())].append(time.monotonic())

    def succeeded(self, address: str, name: str) -> None:
        with self._lock:
            self._failures.pop((address, name.lower()), None)
