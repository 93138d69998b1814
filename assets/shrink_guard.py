"""The shrink guard: a reload must not replace loaded history with a much smaller answer.

An API that answers "nothing" (a header-only export, an empty page) while the lake holds the
partition's rows is far likelier broken than truthful: days, hours and closed months do not
lose their past. So a partition that would shrink to zero, or below `SORACOM_SHRINK_MIN_FRACTION`
of its rows, is not written: the old file stays and the partition fails, naming the table, the
partition and both row counts. A partition marked final (a `preliminary` column all false: a
closed billing month) is never replaced by a smaller one. `SORACOM_ALLOW_SHRINK=<table>` is the
explicit override, for a shrink that is real.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipelines import settings
from pipelines.lake import Lake, LakeError, TableSpec
from pipelines.lake.lake import BeforeReplace

FINAL_FLAG = "preliminary"  # a table with this column marks partitions that will not change (all false)


class ShrinkRefused(Exception):
    """A reload would have shrunk a partition; the old file was kept."""


@dataclass(frozen=True)
class ShrinkPolicy:
    """How much a reload may shrink a partition, and which tables may shrink at will."""

    min_fraction: float = 0.5
    allowed: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ShrinkPolicy:
        allowed = settings.value(settings.ALLOW_SHRINK, env)
        return cls(
            min_fraction=float(settings.value(settings.SHRINK_MIN_FRACTION, env)),  # type: ignore[arg-type]
            allowed=allowed if isinstance(allowed, frozenset) else frozenset(),
        )

    def allows(self, table: str) -> bool:
        return "*" in self.allowed or table.lower() in self.allowed


@dataclass(frozen=True)
class Loaded:
    """What the lake holds for a partition before the reload."""

    rows: int
    final: bool  # marked final by the source (a closed billing month)


def loaded(lake: Lake, spec: TableSpec, partition: Mapping[str, object]) -> Loaded | None:
    """The partition as loaded, or None when there is nothing to protect (no file, or a file
    that cannot be read: replacing an unreadable file loses nothing)."""
    try:
        rows = lake.partition_rows(spec, partition)
        if not rows:
            return None
        final = False
        if FINAL_FLAG in spec.schema.names:
            flags = lake.read(spec, partition)[FINAL_FLAG]
            final = flags.null_count() == 0 and not bool(flags.any())
    except (LakeError, OSError, ValueError):
        return None
    return Loaded(rows=rows, final=final)


def refusal(policy: ShrinkPolicy, table: str, partition: str, before: Loaded | None, rows: int) -> str | None:
    """Why writing `rows` over what the partition holds is refused, or None when it may be."""
    if before is None or rows >= before.rows or policy.allows(table):
        return None
    where = f"{table} partition {partition}: the reload has {rows} rows where the lake holds {before.rows}"
    kept = (
        "the loaded file was kept. If the source really holds less, load again with "
        f"{settings.ALLOW_SHRINK}={table}"
    )
    if before.final:
        return f"{where}, and that partition is final (closed); {kept}"
    if rows == 0:
        return f"{where} (an empty answer while the partition had data); {kept}"
    if rows < before.rows * policy.min_fraction:
        limit = f"{settings.SHRINK_MIN_FRACTION}={policy.min_fraction:g}"
        return f"{where} (below {limit} of them); {kept}"
    return None


def guard(
    lake: Lake, spec: TableSpec, partition: Mapping[str, object], key: str, policy: ShrinkPolicy
) -> BeforeReplace:
    """The lake's `before_replace` hook for one partition write: raises ShrinkRefused."""
    before = loaded(lake, spec, partition)

    def check(rows: int) -> None:
        reason = refusal(policy, spec.name, key, before, rows)
        if reason is not None:
            raise ShrinkRefused(reason)

    return check
