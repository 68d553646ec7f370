"""Slow down password guessing: a few failed logins, then a pause.

Failures count three ways within a window: per device and account (a colleague who mistyped),
per device over all names (one device trying many names), and per account over all devices
(many devices trying one account). Names count as the account they would sign in to, so
" anna", "anna " and "ANNA" are one. The table is bounded: a flood of made-up names cannot grow
memory, the oldest entries go first.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections import OrderedDict, deque

ANY = "*"


def account_key(name: str) -> str:
    """The account a typed name would sign in to, as one key (case, spaces and Unicode forms aside)."""
    return unicodedata.normalize("NFKC", name).strip().casefold()[:200]


class LoginThrottle:
    def __init__(self, attempts: int = 5, window_s: float = 600.0, wide_attempts: int = 20,
                 max_entries: int = 10_000) -> None:
        """``attempts`` per device and account, ``wide_attempts`` per device and per account over all."""
        self.attempts = attempts
        self.wide_attempts = wide_attempts
        self.window_s = window_s
        self.max_entries = max_entries
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, address: str, name: str) -> list[tuple[tuple[str, str], int]]:
        account = account_key(name)
        return [((address, account), self.attempts), ((address, ANY), self.wide_attempts),
                ((ANY, account), self.wide_attempts)]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and now - failures[0] > self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def wait_seconds(self, address: str, name: str) -> int:
        """0 when a login may be tried now, else the seconds until the next try."""
        now = time.monotonic()
        wait = 0
        with self._lock:
            for key, limit in self._keys(address, name):
                failures = self._recent(key, now)
                if len(failures) >= limit:
                    wait = max(wait, int(self.window_s - (now - failures[-limit])) + 1)
        return wait

    def failed(self, address: str, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key, _ in self._keys(address, name):
                failures = self._failures.pop(key, None) or deque(maxlen=max(self.attempts, self.wide_attempts))
                failures.append(now)
                self._failures[key] = failures  # newest last: the oldest entries are dropped first
            while len(self._failures) > self.max_entries:
                self._failures.popitem(last=False)

    def succeeded(self, address: str, name: str) -> None:
        """The person got in: their own mistakes are forgotten (not those counted over all)."""
        with self._lock:
            self._failures.pop((address, account_key(name)), None)

    def __len__(self) -> int:
        return len(self._failures)
