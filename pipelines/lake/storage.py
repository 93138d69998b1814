"""File I/O behind one small interface, so the lake root can later be an object store.

Everything the lake writes goes through `Storage.atomic_write`: the writer fills a temp file in
the destination folder, then the storage publishes it in one step (fsync + `os.replace` on a
local disk, a single PUT on an object store). Readers see the old file or the new one, never a
partial one. Keys are '/'-separated paths relative to the storage root.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from pipelines.lake.errors import LakeError

FILE_MODE = 0o644
DIR_MODE = 0o755
# Temp files are hidden and do not end in the final suffix, so globs like `*/*.parquet` never see them.
_TEMP_NAME = re.compile(r"^\.(?P<final>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]+(?P<suffix>\.wal)?$")
# A temp file whose writer is still alive is only reclaimed after this long (pid reuse safety net).
STALE_TEMP_SECONDS = 24 * 3600


class Storage(Protocol):
    """What the lake needs from a place to keep files."""

    def uri(self, key: str) -> str:
        """Absolute location of `key` as DuckDB, Polars and BI tools should read it."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def list_dir(self, key: str) -> list[str]:
        """Names directly under `key` (sorted); empty when `key` does not exist."""
        ...

    def open_read(self, key: str) -> BinaryIO:
        """One handle on one version of `key`: a read through it cannot mix old and new versions."""
        ...

    def atomic_write(self, key: str) -> contextlib.AbstractContextManager[str]:
        """Yield a local temp path for the writer to create; publish it at `key` on a clean exit."""
        ...


def temp_name(final_name: str) -> str:
    """Hidden, per-process, unguessable temp name for `final_name`, e.g. `.part-0.parquet.tmp-42-9f3c..`."""
    return f".{final_name}.tmp-{os.getpid()}-{secrets.token_hex(6)}"


def is_temp_name(name: str) -> bool:
    return _TEMP_NAME.match(name) is not None


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class LocalStorage:
    """`Storage` on a local (or mounted) file system; files 0644 and folders 0755 whatever the umask."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        text = os.fspath(root)
        if "://" in text:
            raise LakeError(
                f"lake root {text!r} looks like a URI; only local paths are supported so far "
                "(pass a directory path such as ./data/lake)"
            )
        self.root = Path(text).expanduser().resolve()

    def path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def uri(self, key: str) -> str:
        return str(self.path(key))

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def list_dir(self, key: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(key)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def open_read(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")  # the caller closes it

    def make_dirs(self, folder: Path) -> None:
        """Create `folder` and missing parents as 0755 (chmod after mkdir: the umask cannot change it)."""
        missing = []
        current = folder
        while not current.exists():
            missing.append(current)
            current = current.parent
        for directory in reversed(missing):
            try:
                os.mkdir(directory, DIR_MODE)
            except FileExistsError:  # another writer made it first; leave its mode alone
                continue
            os.chmod(directory, DIR_MODE)

    def clean_stale_temps(self, folder: Path) -> list[str]:
        """Delete temp files left in `folder` by writers that died (crash, kill -9); returns their names."""
        removed = []
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            return removed
        for name in names:
            match = _TEMP_NAME.match(name)
            if match is None:
                continue
            temp = folder / name
            try:
                age = time.time() - temp.stat().st_mtime
            except FileNotFoundError:
                continue
            if _pid_alive(int(match["pid"])) and age < STALE_TEMP_SECONDS:
                continue
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
                removed.append(name)
        return removed

    @contextlib.contextmanager
    def atomic_write(self, key: str) -> Iterator[str]:
        final = self.path(key)
        self.make_dirs(final.parent)
        self.clean_stale_temps(final.parent)
        temp = final.parent / temp_name(final.name)
        try:
            yield str(temp)
            if not temp.exists():
                raise LakeError(f"the writer for {final} did not create its temp file {temp}")
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(temp, FILE_MODE)
            os.replace(temp, final)
            _fsync_dir(final.parent)
        except BaseException:
            for leftover in (temp, temp.with_name(temp.name + ".wal")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            raise


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (the directory entry), not just the file's bytes."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
