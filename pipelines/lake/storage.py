"""File I/O behind one small interface, so the lake root can be a folder or an object store.

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
from typing import Any, BinaryIO, Protocol

import duckdb

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

    def list_files(self, key: str) -> list[str]:
        """Keys of every file under the folder `key`, at any depth (one listing on an object store)."""
        ...

    def open_read(self, key: str) -> BinaryIO:
        """One handle on one version of `key`: a read through it cannot mix old and new versions."""
        ...

    def stamps(self, key: str) -> dict[str, str]:
        """Every file under the folder `key` -> a stamp that changes whenever the file is written
        again (size, modification time and inode locally; ETag and size on an object store)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file `key` (no error when it is already gone)."""
        ...

    def atomic_write(self, key: str) -> contextlib.AbstractContextManager[str]:
        """Yield a local temp path for the writer to create; publish it at `key` on a clean exit."""
        ...

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make `uri()` globs readable by DuckDB on `con` (a no-op for local files)."""
        ...

    def warm(self, key: str) -> None:
        """Prepare DuckDB's reads of the files under `key` (on an object store: one listing, so
        each file's size needs no request of its own; a no-op for local files)."""
        ...


# Schemes the lake root may use; anything else that looks like a URL is refused, never taken for a
# folder name (`Path("s3://b/x")` is the relative folder `s3:/b/x`).
LOCAL_SCHEMES = ("file",)
OBJECT_STORE_SCHEMES = ("s3", "s3a", "gs", "gcs", "abfs", "abfss", "az")
_URL_LIKE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):/")


def url_scheme(root: str | os.PathLike[str]) -> str | None:
    """The scheme of a root that looks like a URL (`s3://...`, even `s3:/...`), else None."""
    match = _URL_LIKE.match(os.fspath(root))
    if match is None or (len(match["scheme"]) == 1 and os.name == "nt"):  # C:/ on Windows
        return None
    return match["scheme"].lower()


def check_root(root: str | os.PathLike[str]) -> str:
    """`root` if the lake can live there; a `LakeError` saying what is supported otherwise."""
    scheme = url_scheme(root)
    text = os.fspath(root)
    if scheme is None or scheme in LOCAL_SCHEMES + OBJECT_STORE_SCHEMES:
        if scheme is not None and "://" not in text:
            raise LakeError(f"lake root {text!r}: write the URL with two slashes ({scheme}://...)")
        return text
    supported = ", ".join(f"{s}://" for s in LOCAL_SCHEMES + OBJECT_STORE_SCHEMES)
    raise LakeError(
        f"lake root {text!r}: the scheme {scheme!r} is not supported; use a folder path (./data/lake) "
        f"or one of {supported}"
    )


def open_storage(root: str | os.PathLike[str], **storage_options: Any) -> Storage:
    """The storage for a lake root: a folder or `file://` URL, or an object store URL (fsspec)."""
    text = check_root(root)
    scheme = url_scheme(text)
    if scheme is None:
        return LocalStorage(text)
    if scheme == "file":
        return LocalStorage(text.split("://", 1)[1])
    from pipelines.lake.objectstore import FsspecStorage  # fsspec only when an object store is used

    return FsspecStorage(text, **storage_options)


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
        if url_scheme(text) is not None:
            raise LakeError(f"lake root {text!r} is a URL, not a folder: open it with open_storage()")
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

    def list_files(self, key: str) -> list[str]:
        return sorted(name for name, _ in self._entries(key))

    def _entries(self, key: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """(key, entry) of every file under `key`, as `os.walk` finds them (symlinked folders not
        followed, unreadable folders skipped), without a `Path` per file: a model build lists
        ~110 folders, a year of day partitions each (0.27 s through `os.walk` and `Path`)."""
        prefix = key.strip("/") + "/" if key.strip("/") else ""
        folders = [(os.fspath(self.path(key)), prefix)]
        while folders:
            folder, relative = folders.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError:
                continue
            for entry in entries:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if not is_dir:
                    yield relative + entry.name, entry
                elif not entry.is_symlink():
                    folders.append((entry.path, f"{relative}{entry.name}/"))

    def open_read(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")  # the caller closes it

    def stamps(self, key: str) -> dict[str, str]:
        found = {}
        for name, entry in self._entries(key):
            with contextlib.suppress(FileNotFoundError):
                stat = entry.stat()
                found[name] = f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"
        return found

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Local files need nothing: DuckDB reads them itself."""

    def warm(self, key: str) -> None:
        """Local files need nothing: their metadata is a stat away."""

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
