"""The per-notebook event log: what happened and when, for tests and benchmarks to read back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
EventPredicate = Callable[[Event], bool]


class EventLog:
    """An append-only list of ``{"t": server_time, "kind": ..., ...}`` entries with waiters.

    ``t`` is ``time.time()`` at append, nudged so that it strictly increases within one log: a
    reader that passes the last ``t`` it saw as ``since`` never misses nor repeats an entry.
    Must be used from the event loop that runs the emulator.
    """

    __slots__ = ("_changed", "_entries", "_last_t")

    def __init__(self) -> None:
        self._entries: list[Event] = []
        self._last_t = 0.0
        self._changed = asyncio.Event()

    def append(self, kind: str, **fields: Any) -> Event:
        """Add an entry stamped with the server time and wake every waiter; returns the entry."""
        now = max(time.time(), self._last_t + 1e-6)
        self._last_t = now
        entry: Event = {"t": now, "kind": kind, **{k: v for k, v in fields.items() if k not in ("t", "kind")}}
        self._entries.append(entry)
        # Wake current waiters; each of them re-checks and waits on a fresh Event.
        self._changed.set()
        self._changed = asyncio.Event()
        return entry

    def since(self, t: float | None = None) -> list[Event]:
        """Entries with ``t`` strictly after ``t`` (all of them when ``t`` is None), oldest first."""
        if t is None:
            return list(self._entries)
        return [entry for entry in self._entries if entry["t"] > t]

    def clear(self) -> None:
        """Forget every entry (tests call this between scenarios)."""
        self._entries.clear()

    async def wait_for(
        self,
        kind: str,
        *,
        since: float | None = None,
        predicate: EventPredicate | None = None,
        timeout: float = 15.0,  # noqa: ASYNC109  # the test API's shape: wait_for(..., timeout=15)
    ) -> Event:
        """Return the first entry of ``kind`` after ``since`` that satisfies ``predicate``.

        Entries already in the log count, so call this after the action with ``since`` taken before it.

        Raises:
            TimeoutError: nothing matched within ``timeout`` seconds; the message lists the kinds seen.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for entry in self.since(since):
                if entry["kind"] == kind and (predicate is None or predicate(entry)):
                    return entry
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [entry["kind"] for entry in self.since(since)]
                raise TimeoutError(f"no {kind!r} event within {timeout:g} s; saw {seen}")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                continue
