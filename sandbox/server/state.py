"""The live state of one sandbox server: world, settings, tokens, limits, exports, stats."""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING

from sandbox.server.auth import TokenStore
from sandbox.server.exports import ExportRegistry
from sandbox.server.faults import FaultInjector
from sandbox.server.ratelimit import RateLimiter
from sandbox.server.settings import SandboxSettings
from sandbox.server.stats import ServerStats

if TYPE_CHECKING:
    from sandbox.world import World

COVERAGE_PREFIX = {"jp": "", "g": "/g"}


class Inventory:
    """Id lists of one coverage in page order, with positions for cursor lookups.

    Built once: the inventory is "as of now" and `now` is fixed for a server's life.
    """

    def __init__(self, world: World, coverage: str) -> None:
        self._world = world
        self._coverage = coverage

    @cached_property
    def sim_ids(self) -> list[str]:
        return list(self._world.sim_ids(self._coverage))

    @cached_property
    def sim_index(self) -> dict[str, int]:
        return {sim_id: i for i, sim_id in enumerate(self.sim_ids)}

    @cached_property
    def imsis(self) -> list[str]:
        found: list[str] = []
        for sim_id in self.sim_ids:
            sim = self._world.sim(sim_id) or {}
            for profile in (sim.get("profiles") or {}).values():
                found.extend((profile.get("subscribers") or {}).keys())
        return sorted(found)

    @cached_property
    def imsi_index(self) -> dict[str, int]:
        return {imsi: i for i, imsi in enumerate(self.imsis)}

    @cached_property
    def groups(self) -> list[dict]:
        return list(self._world.groups(self._coverage))

    @cached_property
    def group_index(self) -> dict[str, int]:
        return {g["groupId"]: i for i, g in enumerate(self.groups)}


class SandboxState:
    def __init__(self, world: World, settings: SandboxSettings | None = None) -> None:
        self.world = world
        self.settings = settings or SandboxSettings()
        self.tokens = TokenStore()
        self.limiter = RateLimiter()
        self.faults = FaultInjector(self.settings)
        self.exports = ExportRegistry(self.settings)
        self.stats = ServerStats()
        self.inventories = {cov: Inventory(world, cov) for cov in world.coverages}
        self._started = time.monotonic()

    @property
    def operator_id(self) -> str:
        return self.world.operator_id

    def clock_ms(self) -> int:
        """The sandbox clock: the world's `now` plus how long this server has been up."""
        return self.world.now_ms + int((time.monotonic() - self._started) * 1000)

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
