"""`FsspecStorage`: the lake on an object store (`s3://`, `gs://`, `abfs://`) through fsspec.

An object store has no rename, but a single PUT of an object is atomic: readers get the old
object or the new one, never a mix. So a write fills a local temp file (in a staging folder of
this machine, hidden, named after the writer's pid) and then uploads it to the final key in one
PUT (a file larger than the client's multipart threshold goes up as one multipart upload, which
only becomes visible when it completes, atomically too). A killed run leaves at most a local temp
file (deleted by the next write on this machine, see `LocalStorage.clean_stale_temps`) and, for a
huge file, an incomplete multipart upload, which no reader sees and the next write of that key
aborts. Reads fetch a whole object with one GET, so a read never mixes two versions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import duckdb

from pipelines.lake.errors import LakeError
from pipelines.lake.storage import STALE_TEMP_SECONDS, LocalStorage, temp_name

log = logging.getLogger(__name__)
# An incomplete multipart upload of a key older than this belongs to a dead writer.
STALE_UPLOAD_SECONDS = 3600
# How long DuckDB's reads trust a listing of the lake (`FsspecStorage.reader`) before asking again.
READER_LISTING_SECONDS = 60


def staging_folder() -> Path:
    """Where this machine stages uploads: per user, private, created on demand."""
    configured = os.environ.get("SORACOM_LAKE_STAGING", "").strip()
    folder = Path(configured) if configured else Path(tempfile.gettempdir()) / f"soracom-lake-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _forgetful_reader(base: type) -> type:
    """`base` whose open files drop their path from the listings cache when a read fails.

    A reader pins its reads to the listed version (s3fs sends the listed ETag): an object another
    process replaced since fails the query racing it, and the next query must list it afresh
    instead of failing on the remembered version until the listing expires.
    """

    class ForgetfulReader(base):  # type: ignore[valid-type,misc]
        def _open(self, path: str, *args: Any, **kwargs: Any) -> Any:
            handle = super()._open(path, *args, **kwargs)
            read = handle.read

            def read_or_forget(*read_args: Any, **read_kwargs: Any) -> bytes:
                try:
                    return read(*read_args, **read_kwargs)
                except OSError:
                    self.invalidate_cache(path)  # the path and its folders
                    raise

            handle.read = read_or_forget
            return handle

    ForgetfulReader.__name__ = ForgetfulReader.__qualname__ = f"Forgetful{base.__name__}"
    return ForgetfulReader


class FsspecStorage:
    """`Storage` on any fsspec file system given by a URL, e.g. `s3://bucket/lake`.

    Credentials come from the file system's usual chain (for S3: env, profile, instance role;
    `AWS_ENDPOINT_URL` for MinIO, R2 and other S3-compatible stores). Every listing asks the
    store, so partitions written by other processes are seen at once; DuckDB reads through
    `reader`, which remembers those listings (see `__init__`).
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec  # imported here: a local lake does not pay for it

        try:
            self.fs, path = fsspec.core.url_to_fs(url, use_listings_cache=False, **storage_options)
        except (ImportError, ValueError) as error:
            raise LakeError(
                f"lake root {url!r}: cannot open this file system ({error}); install its fsspec driver "
                "(`pip install 'soracom-lake[gcs]'` for gs://, `[azure]` for abfs://)"
            ) from error
        # What DuckDB reads through: the same store with a listings cache, filled by this storage's
        # own listings (`list_files`), so opening a listed file costs no HEAD request. DuckDB asks
        # for a file's info about eight times per query (glob, exists, size, modified, open);
        # without the cache each is a HEAD. Entries expire; writes and deletes drop theirs.
        self.reader = _forgetful_reader(type(self.fs))(
            **{**self.fs.storage_options, "use_listings_cache": True, "skip_instance_cache": True},
            listings_expiry_time=READER_LISTING_SECONDS,
        )
        self.protocol = url.split("://", 1)[0]
        self.base = path.rstrip("/")
        if not self.base:
            raise LakeError(f"lake root {url!r} names no bucket: use e.g. s3://my-bucket/lake")
        self.staging = LocalStorage(staging_folder())
        self._uploads_checked = False

    def path(self, key: str) -> str:
        return f"{self.base}/{key}" if key else self.base

    def uri(self, key: str) -> str:
        return f"{self.protocol}://{self.path(key)}"

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self.path(key)))

    def size(self, key: str) -> int:
        return int(self.fs.size(self.path(key)))

    def list_dir(self, key: str) -> list[str]:
        try:
            entries = self.fs.ls(self.path(key), detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        prefix = self.path(key).rstrip("/") + "/"
        return sorted(e[len(prefix) :] for e in (str(e).rstrip("/") for e in entries) if e.startswith(prefix))

    def list_files(self, key: str) -> list[str]:
        """Every object under `key`, listed now (one flat listing); DuckDB's reads of them then
        take their size from it (see `reader`)."""
        base = self.base + "/"
        self._forget(key)
        return sorted(str(o).removeprefix(base) for o in self.reader.find(self.path(key)))

    def warm(self, key: str) -> None:
        self.list_files(key)

    def _forget(self, key: str) -> None:
        """Drop what `reader` knows of `key`, its parents and everything under it: a listing fills
        the cache only for folders it has not seen, so a stale folder left below would hide files."""
        path = self.path(key).rstrip("/")
        self.reader.invalidate_cache(path)
        for cached in [k for k in list(self.reader.dircache) if k.startswith(path + "/")]:
            self.reader.dircache.pop(cached, None)

    def open_read(self, key: str) -> BinaryIO:
        # One GET of the whole object: one version, whatever a writer does meanwhile.
        return io.BytesIO(self.fs.cat_file(self.path(key)))

    def stamps(self, key: str) -> dict[str, str]:
        base = self.base + "/"
        found = {}
        self._forget(key)
        for name, info in self.reader.find(self.path(key), detail=True).items():
            etag = info.get("ETag") or info.get("etag") or info.get("md5") or info.get("LastModified")
            found[str(name).removeprefix(base)] = f"{info.get('size')}:{etag}"
        return found

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(key))
        self._forget(key)

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let DuckDB read `protocol://` globs through this file system (no httpfs needed here)."""
        names = (
            self.reader.protocol
            if isinstance(self.reader.protocol, tuple | list)
            else (self.reader.protocol,)
        )
        if not any(con.filesystem_is_registered(n) for n in names):
            con.register_filesystem(self.reader)

    @contextlib.contextmanager
    def atomic_write(self, key: str) -> Iterator[str]:
        self.staging.clean_stale_temps(self.staging.root)
        self._abort_stale_uploads(key)
        temp = self.staging.root / temp_name(key.replace("/", "_"))
        try:
            yield str(temp)
            if not temp.exists():
                raise LakeError(f"the writer for {self.uri(key)} did not create its temp file {temp}")
            self.fs.put_file(str(temp), self.path(key))  # one PUT (or one multipart upload)
            self._forget(key)
        finally:
            for leftover in (temp, temp.with_name(temp.name + ".wal")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()

    def _abort_stale_uploads(self, key: str) -> None:
        """Abort incomplete multipart uploads under the lake left by killed writers (S3 only); once
        per storage object (a run), before its first write."""
        if self._uploads_checked or not hasattr(self.fs, "list_multipart_uploads"):
            return
        self._uploads_checked = True
        bucket, _, prefix = self.path("").partition("/")
        try:
            uploads = self.fs.list_multipart_uploads(bucket)
        except Exception as error:  # listing uploads needs a permission writes do not; never block a write
            log.debug("cannot list multipart uploads of %s: %s", bucket, error)
            return
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=min(STALE_UPLOAD_SECONDS, STALE_TEMP_SECONDS))
        for upload in uploads:
            initiated = upload.get("Initiated")
            upload_key = str(upload.get("Key", ""))
            if upload_key.startswith(prefix + "/") and initiated is not None and initiated < cutoff:
                with contextlib.suppress(Exception):
                    self.fs.call_s3(
                        "abort_multipart_upload", Bucket=bucket, Key=upload_key, UploadId=upload["UploadId"]
                    )
                    log.warning("aborted a stale multipart upload of s3://%s/%s", bucket, upload_key)
