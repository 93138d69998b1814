"""How a mart is split into day or month files, read from its SQL header.

    -- partitioned by: day(date)
    -- partition inputs: air_traffic_daily(date), session_events(date) -1..end
    -- dimensions: stg_sims(coverage, sim_id, name), stg_sim_imsis

`partitioned by` names the mart's partition column and its unit (`day` over a DATE column,
`month` over a `YYYYMM` text column): the unit of recomputation; files hold a month each.
`partition inputs` are the tables (or partitioned marts) whose partitions line up with the
mart's: input partition X changes mart partitions X+lo .. X+hi (default 0..0, the same day or
month; `end` = every later partition; a bound may name a `report_params` column; `carried by
<file under sql/>` bounds an `end` reach by a carry query, pipelines/lake/incremental.py). `dimensions`
are staging models every partition reads whole (the SIM dimension): the listed columns' content
is hashed, and a change rebuilds every partition. Anything else the mart reads is a whole input:
any change of its files rebuilds every partition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipelines.lake.errors import ModelError

UNITS = ("day", "month")
END = "end"
_HEADER = re.compile(r"^--\s*(partitioned by|partition inputs|dimensions):\s*(.+?)\s*$", re.IGNORECASE)
_PARTITIONED = re.compile(r"^(day|month)\(\s*([a-z_][a-z0-9_]*)\s*\)$")
_INPUT = re.compile(
    r"([a-z_][a-z0-9_]*)\(\s*([a-z_][a-z0-9_]*)\s*\)(?:\s+(\S+?)\.\.(\S+))?"
    r"(?:\s+carried by\s+([a-z0-9_/]+\.sql))?\s*(?:,|$)"
)
_DIMENSION = re.compile(r"([a-z_][a-z0-9_]*)(?:\(([^)]*)\))?\s*(?:,|$)")
_BOUND = re.compile(r"^(?:[+-]?\d+|report_params\.[a-z_][a-z0-9_]*)$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-?(\d{2})$")


@dataclass(frozen=True)
class PartitionInput:
    """An input whose partition X (its `column`) changes the mart's partitions X+lo .. X+hi."""

    name: str
    column: str
    lo: str = "0"
    hi: str = "0"  # or END
    carry: str = ""  # the carry query's SQL (`carried by <file>`): see pipelines/lake/incremental.py


@dataclass(frozen=True)
class Dimension:
    """A staging model every partition reads whole; `columns` (all when empty) are hashed."""

    name: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Partitioning:
    unit: str
    column: str
    inputs: tuple[PartitionInput, ...]
    dimensions: tuple[Dimension, ...]
    header: str  # the annotation lines and carry queries, part of the mart's definition hash


def _parse_all(pattern: re.Pattern[str], text: str, path: Path, what: str) -> list[re.Match[str]]:
    found, at = [], 0
    text = text.strip()
    while at < len(text):
        match = pattern.match(text, at)
        if match is None:
            raise ModelError(f"{path}: cannot read `-- {what}:` at {text[at:]!r}; see sql/README.md")
        found.append(match)
        at = match.end()
        while at < len(text) and text[at] == " ":
            at += 1
    return found


def parse_partitioning(path: Path, sql: str) -> Partitioning | None:
    """The mart's partitioning from its header, or None when it has no `-- partitioned by:` line."""
    lines: dict[str, str] = {}
    kept = []
    for line in sql.splitlines():
        match = _HEADER.match(line.strip())
        if match:
            lines[match.group(1).lower()] = match.group(2)
            kept.append(line.strip())
    if "partitioned by" not in lines:
        if lines:
            raise ModelError(f"{path}: `-- {next(iter(lines))}:` needs a `-- partitioned by:` line")
        return None
    head = _PARTITIONED.match(lines["partitioned by"])
    if head is None:
        raise ModelError(
            f"{path}: `-- partitioned by:` takes day(<date column>) or month(<YYYYMM column>), "
            f"got {lines['partitioned by']!r}"
        )
    inputs = []
    for match in _parse_all(_INPUT, lines.get("partition inputs", ""), path, "partition inputs"):
        lo, hi = match.group(3) or "0", match.group(4) or "0"
        for bound in (lo, hi if hi != END else "0"):
            if not _BOUND.match(bound):
                raise ModelError(
                    f"{path}: partition input {match.group(1)}: bound {bound!r} is not an integer, "
                    "`end` or report_params.<column>"
                )
        carry = ""
        if match.group(5):
            if hi != END or head.group(1) != "day":
                raise ModelError(f"{path}: `carried by` needs a day-partitioned mart and a reach to `end`")
            carry_path = path.parent.parent / match.group(5)
            try:
                carry = carry_path.read_text()
            except OSError as error:
                raise ModelError(f"{path}: cannot read the carry query {carry_path}: {error}") from error
        inputs.append(PartitionInput(match.group(1), match.group(2), lo, hi, carry))
    if not inputs:
        raise ModelError(f"{path}: a partitioned mart needs a `-- partition inputs:` line")
    dimensions = []
    for match in _parse_all(_DIMENSION, lines.get("dimensions", ""), path, "dimensions"):
        columns = tuple(c.strip() for c in (match.group(2) or "").split(",") if c.strip())
        dimensions.append(Dimension(match.group(1), columns))
    header = "\n".join([*kept, *(i.carry for i in inputs if i.carry)])
    return Partitioning(head.group(1), head.group(2), tuple(inputs), tuple(dimensions), header)


def unit_of(value: object, unit: str, where: str) -> int:
    """A partition value (a date, `YYYY-MM-DD`, `YYYY-MM` or `YYYYMM`) as a day or month number."""
    if isinstance(value, date):
        day = value
    else:
        text = str(value)
        day_match, month_match = _DAY.match(text), _MONTH.match(text)
        if day_match:
            day = date(*(int(g) for g in day_match.groups()))
        elif month_match:
            if unit == "day":
                raise ModelError(f"{where}: month partition {text!r} cannot feed a day-partitioned mart")
            return int(month_match.group(1)) * 12 + int(month_match.group(2)) - 1
        else:
            raise ModelError(f"{where}: partition value {text!r} is neither a day nor a month")
    return day.toordinal() if unit == "day" else day.year * 12 + day.month - 1


def unit_value(unit_number: int, unit: str) -> str:
    """The mart's partition value of a day or month number: `YYYY-MM-DD` or `YYYYMM`."""
    if unit == "day":
        return date.fromordinal(unit_number).isoformat()
    return f"{unit_number // 12:04d}{unit_number % 12 + 1:02d}"
