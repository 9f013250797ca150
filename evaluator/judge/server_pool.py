"""Several servers of one judge model (``api.base_url=[http://a/v1,http://b/v1]``): each request goes to the
least-busy server that is up, each server with its own ``api.concurrency`` slots.

A try that fails on a server (no connection, a timeout, a 5xx, an unreadable reply) is tried again on another one
at once; a server that fails ``DOWN_AFTER`` tries in a row is left out for ``COOL_OFF_S`` seconds, with one warning,
then let back one request at a time until one succeeds. When every server is down, requests still go out, so the
retry budget (``api.max_retries``) ends a run rather than a wait. A 429 is the server's own queue, not a failure:
it is asked again elsewhere without counting against the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

DOWN_AFTER = 3  # failed tries in a row before a server is left out
COOL_OFF_S = 30.0  # how long a server is left out before one request tries it again


@dataclass(eq=False)
class Endpoint:
    """One server: its client, its slots, and what it has answered."""

    url: str
    client: object
    slots: int
    active: int = 0
    requests: int = 0
    failed: int = 0
    in_a_row: int = 0  # failed tries since the last success
    down_until: float = 0.0
    warned: bool = False

    def down(self, now: float) -> bool:
        return now < self.down_until

    def free(self, now: float) -> int:
        """Slots it may take now: none while down, one while on trial after being down, else its own."""
        if self.down(now):
            return 0
        limit = 1 if self.in_a_row >= DOWN_AFTER else self.slots
        return max(0, limit - self.active)


@dataclass
class ServerPool:
    """The servers of a run; ``lease()`` gives a request its server."""

    endpoints: list[Endpoint]
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def open(cls, urls: list[str], slots: int, make_client: Callable[[str], object]) -> ServerPool:
        return cls([Endpoint(url, make_client(url), slots) for url in urls])

    @property
    def slots(self) -> int:
        return sum(e.slots for e in self.endpoints)

    @property
    def urls(self) -> str:
        return ", ".join(e.url for e in self.endpoints)

    def _pick(self, avoid: Endpoint | None) -> Endpoint | None:
        now = time.monotonic()
        if all(e.down(now) for e in self.endpoints):  # nothing is up: keep asking, the retries bound it
            ready = [e for e in self.endpoints if e.active < e.slots]
        else:
            ready = [e for e in self.endpoints if e.free(now) > 0]
        ready = [e for e in ready if e is not avoid] or ready
        # The least busy; among equals the one asked least, so that equal servers take turns.
        return min(ready, key=lambda e: (e.active / e.slots, e.requests), default=None)

    @contextlib.asynccontextmanager
    async def lease(self, avoid: Endpoint | None = None):
        """A server for one try, preferring another than ``avoid`` (where the last try failed)."""
        while (endpoint := self._pick(avoid)) is None:
            self._released.clear()
            with contextlib.suppress(asyncio.TimeoutError):  # a left-out server's time may end meanwhile
                await asyncio.wait_for(self._released.wait(), timeout=1.0)
        endpoint.active += 1
        endpoint.requests += 1
        try:
            yield endpoint
        finally:
            endpoint.active -= 1
            self._released.set()

    def up_besides(self, failed: list[Endpoint]) -> bool:
        """Whether a server other than those a request ``failed`` on is up: the next try may go there at once."""
        now = time.monotonic()
        return any(not e.down(now) and all(e is not f for f in failed) for e in self.endpoints)

    def succeeded(self, endpoint: Endpoint) -> None:
        if endpoint.warned:
            log.warning("api: %s answers again", endpoint.url)
        endpoint.in_a_row, endpoint.warned = 0, False

    def failed(self, endpoint: Endpoint, why: str) -> None:
        """A try that failed on ``endpoint``; after ``DOWN_AFTER`` in a row it is left out for a while."""
        endpoint.failed += 1
        endpoint.in_a_row += 1
        if endpoint.in_a_row >= DOWN_AFTER and len(self.endpoints) > 1:
            endpoint.down_until = time.monotonic() + COOL_OFF_S
            if not endpoint.warned:
                endpoint.warned = True
                log.warning(
                    "api: %s failed %d tries in a row (%s); leaving it out, trying it again every %g s",
                    endpoint.url, endpoint.in_a_row, why, COOL_OFF_S,
                )  # fmt: skip

    def counts(self) -> dict[str, dict[str, int]]:
        """Tries per server in this run, and how many of them failed."""
        return {e.url: {"requests": e.requests, "failed": e.failed} for e in self.endpoints}

    async def close(self) -> None:
        await asyncio.gather(*(e.client.close() for e in self.endpoints), return_exceptions=True)
