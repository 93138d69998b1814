"""What a report is, independent of its format: the month, the catalog and its tables in order."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Table:
    """One section: `key` names its query (`sql/report/<key>.sql`), `title` and `headers` are for people."""

    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    empty: str = "(none)"
    key: str = ""


@dataclass(frozen=True)
class Report:
    month: str
    catalog: str
    tables: list[Table]

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)
