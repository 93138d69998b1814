"""The live state of one sandbox server: world, settings, tokens, limits, exports, stats."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from sandbox.server.auth import TokenStore
from sandbox.server.cache import Lru
from sandbox.server.exports import ExportRegistry
from sandbox.server.faults import FaultInjector
from sandbox.server.jsonbody import dumps
from sandbox.server.queries import QueryRegistry
from sandbox.server.ratelimit import RateLimiter
from sandbox.server.settings import SandboxSettings
from sandbox.server.stats import ServerStats
from sandbox.world.sim_view import subscriber_dict

if TYPE_CHECKING:
    from sandbox.world import World

COVERAGE_PREFIX = {"jp": "", "g": "/g"}


SIM_CACHE_SIZE = 50_000  # rendered SIM objects kept (about 1.5 KB each)
LIST_CACHE_SIZE = 64  # time lists kept while a client pages through them
ANSWER_CACHE_SIZE = 512  # whole answers of operations that only read the fixed world


class Inventory:
    """Id lists of one coverage in page order, with positions for cursor lookups, and the
    SIM and subscriber objects already rendered.

    The inventory is "as of now" and `now` is fixed for a server's life, so all of this
    is computed once.
    """

    def __init__(self, world: World, coverage: str) -> None:
        self._world = world
        self._coverage = coverage
        self._sim_json: Lru[bytes] = Lru(SIM_CACHE_SIZE)
        self._subscribers: Lru[dict] = Lru(SIM_CACHE_SIZE)

    @cached_property
    def sim_ids(self) -> list[str]:
        return list(self._world.sim_ids(self._coverage))

    @cached_property
    def sim_index(self) -> dict[str, int]:
        return {sim_id: i for i, sim_id in enumerate(self.sim_ids)}

    @cached_property
    def imsis(self) -> list[str]:
        """Every IMSI of the coverage, sorted (the order /subscribers pages them).

        Read from the world's inventory index: going through `sims()` would render every
        SIM object, too slow for 100k SIMs.
        """
        inv = self._world.inv
        in_coverage = self.sim_index
        return sorted(imsi for imsi, (i, _) in inv.index_of_imsi.items() if inv.sim_id[i] in in_coverage)

    def sims_json(self, sim_ids: list[str]) -> list[bytes]:
        """The JSON of each SIM, rendering the ones not cached in one bulk world call."""
        cached = [self._sim_json.get(sim_id) for sim_id in sim_ids]
        missing = [sim_id for sim_id, body in zip(sim_ids, cached, strict=True) if body is None]
        if missing:
            for sim in self._world.sims(missing):
                self._sim_json.put(sim["simId"], dumps(sim))
            cached = [self._sim_json.get(sim_id) or b"" for sim_id in sim_ids]
        return cached  # type: ignore[return-value]

    def subscribers(self, imsis: list[str]) -> list[dict]:
        """Subscriber objects of the IMSIs, rendering the ones not cached in one bulk world call."""
        found = {imsi: self._subscribers.get(imsi) for imsi in imsis}
        missing = [imsi for imsi, sub in found.items() if sub is None]
        if missing:
            inv = self._world.inv
            owners = {imsi: inv.sim_id[inv.index_of_imsi[imsi][0]] for imsi in missing}
            sims = {sim["simId"]: sim for sim in self._world.sims(sorted(set(owners.values())))}
            for imsi in missing:
                sub = subscriber_dict(sims[owners[imsi]], imsi)
                self._subscribers.put(imsi, sub)
                found[imsi] = sub
        return [found[imsi] for imsi in imsis]  # type: ignore[misc]

    @cached_property
    def imsi_index(self) -> dict[str, int]:
        return {imsi: i for i, imsi in enumerate(self.imsis)}

    @cached_property
    def groups(self) -> list[dict]:
        return list(self._world.groups(self._coverage))

    @cached_property
    def group_index(self) -> dict[str, int]:
        return {g["groupId"]: i for i, g in enumerate(self.groups)}


Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class SandboxState:
    """With a `clock` (`--now live`), `now` follows it: each time the clock reaches a new minute,
    the world is replaced by the same world at that minute (new hours, days and months arrive;
    the past does not change) and what was rendered for the old `now` is dropped."""

    def __init__(
        self, world: World, settings: SandboxSettings | None = None, clock: Clock | None = None
    ) -> None:
        self._world = world
        self._clock = clock
        self._advance_lock = threading.Lock()
        self.settings = settings or SandboxSettings()
        self.tokens = TokenStore()
        self.limiter = RateLimiter()
        self.faults = FaultInjector(self.settings)
        self.exports = ExportRegistry(self.settings)
        self.queries = QueryRegistry(self.settings)
        self.stats = ServerStats()
        self.inventories = {cov: Inventory(world, cov) for cov in world.coverages}
        self.lists: Lru[list[dict]] = Lru(LIST_CACHE_SIZE)
        self.answers: Lru[bytes] = Lru(ANSWER_CACHE_SIZE)
        self._started = time.monotonic()

    @property
    def live(self) -> bool:
        return self._clock is not None

    @property
    def world(self) -> World:
        if self._clock is not None:
            self._follow_clock(self._clock())
        return self._world

    def _follow_clock(self, moment: datetime) -> None:
        minute = moment.astimezone(UTC).replace(second=0, microsecond=0)
        if minute <= self._world.now:
            return
        with self._advance_lock:
            if minute <= self._world.now:
                return
            later = self._world.advanced(minute)
            self.inventories = {cov: Inventory(later, cov) for cov in later.coverages}
            self.lists.clear()
            self.answers.clear()
            self._world = later

    @property
    def operator_id(self) -> str:
        return self._world.operator_id

    def clock_ms(self) -> int:
        """The sandbox clock: the live clock, or the world's fixed `now` plus server uptime."""
        if self._clock is not None:
            return int(self._clock().timestamp() * 1000)
        return self._world.now_ms + int((time.monotonic() - self._started) * 1000)

    def coverage_of_sim(self, sim_id: str) -> str | None:
        for coverage, inventory in self.inventories.items():
            if sim_id in inventory.sim_index:
                return coverage
        return None

    def coverage_of_imsi(self, imsi: str) -> str | None:
        for coverage, inventory in self.inventories.items():
            if imsi in inventory.imsi_index:
                return coverage
        return None
