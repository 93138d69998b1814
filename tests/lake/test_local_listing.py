"""The local storage's listing and write stamps (`LocalStorage.list_files`, `stamps`), which
every build and view compares: the same files `os.walk` would find, keys relative to the lake."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.lake.storage import LocalStorage


def _write(path: Path, text: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    root = tmp_path / "lake"
    _write(root / "t" / "date=2026-11-01" / "part-0.parquet")
    _write(root / "t" / "date=2026-11-02" / "part-0.parquet", "yy")
    _write(root / "t" / "top.txt")
    _write(root / "_models" / "m" / "date=2026-11.parquet")
    _write(root / "_models" / "m" / "_carry" / "rows.parquet")
    _write(root / "other" / "a")
    return LocalStorage(root)


def test_lists_every_file_under_a_key_relative_to_the_lake(storage: LocalStorage) -> None:
    assert storage.list_files("t") == [
        "t/date=2026-11-01/part-0.parquet",
        "t/date=2026-11-02/part-0.parquet",
        "t/top.txt",
    ]
    mart = ["_models/m/_carry/rows.parquet", "_models/m/date=2026-11.parquet"]
    assert storage.list_files("_models/m") == mart
    assert storage.list_files("t/") == storage.list_files("t")
    assert len(storage.list_files("")) == 6 and "other/a" in storage.list_files("")


def test_a_missing_key_or_a_file_lists_nothing(storage: LocalStorage) -> None:
    assert storage.list_files("nothing-here") == []
    assert storage.list_files("t/top.txt") == []
    assert storage.stamps("nothing-here") == {}


def test_symlinked_folders_are_not_followed_but_symlinked_files_are_listed(
    storage: LocalStorage, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    _write(outside / "date=2026-01-01" / "part-0.parquet")
    os.symlink(outside / "date=2026-01-01", storage.root / "t" / "date=2026-01-01")
    os.symlink(storage.root / "other" / "a", storage.root / "t" / "link.txt")
    listed = storage.list_files("t")
    assert "t/link.txt" in listed
    assert not any(k.startswith("t/date=2026-01-01") for k in listed)


def test_stamps_name_the_listed_files_and_change_when_a_file_is_replaced(storage: LocalStorage) -> None:
    before = storage.stamps("t")
    assert sorted(before) == storage.list_files("t")
    size, _, _ = before["t/date=2026-11-02/part-0.parquet"].split(":")
    assert size == "2"
    replacement = storage.root / "t" / "new"
    replacement.write_text("yy")  # same size, another inode, published by a rename
    os.replace(replacement, storage.root / "t" / "date=2026-11-02" / "part-0.parquet")
    after = storage.stamps("t")
    assert after["t/date=2026-11-02/part-0.parquet"] != before["t/date=2026-11-02/part-0.parquet"]
    assert after["t/date=2026-11-01/part-0.parquet"] == before["t/date=2026-11-01/part-0.parquet"]
