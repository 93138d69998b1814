"""Soracom Query executions: SQL checked, run by DuckDB over the world's Query tables, result
written as a gzipped CSV.

The posted SQL is untrusted. Only one SELECT over the Query tables may run: the statement's
syntax tree (DuckDB's `json_serialize_sql`) must name no table but a Query table or a CTE, no
table function (`read_csv`, `glob`, `query`, `duckdb_settings`...) and no function that reads
DuckDB's own settings; and it runs on a private database file holding only the window's rows,
with file access disabled and the configuration locked before the SQL is even parsed there.
The rows go to the database file a few thousand SIMs at a time and the result to disk in
batches, so memory stays bounded at 100k SIMs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from sandbox.server.settings import SandboxSettings
from sandbox.world import analysis

log = logging.getLogger("sandbox.server")

QUERY_DOWNLOAD_PREFIX = "/_query-results"
KEPT_RESULTS = 16  # result files kept on disk; an older query id answers 404
RESULT_BATCH_ROWS = 50_000
DUCKDB_CONFIG = {
    "memory_limit": "256MB",  # spills to disk beyond this
    "threads": 1,
    "autoinstall_known_extensions": False,  # no extension fetched or loaded by a posted SQL
    "autoload_known_extensions": False,
}
MAX_RESULT_ROWS = 20_000_000  # a bigger result (a cross join) fails instead of filling the disk
MAX_RUN_S = 600.0  # a query still running after this is interrupted (FAILED)
RUNNING_AT_ONCE = 2  # queries executed at the same time; the others wait in STARTING/RUNNING
_DENIED_FUNCTION = re.compile(
    r"^(duckdb_|pg_|pragma_|sqlite_)|^(current_setting|getvariable|current_database|current_schema"
    r"|current_schemas|current_catalog|version|enable_profiling|which_secret)$",
    re.IGNORECASE,
)


class QueryRejected(ValueError):
    """The SQL may not run (syntax, unknown table, not a plain SELECT...); the message is safe."""


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _cte_names(tree: Any) -> set[str]:
    names: set[str] = set()
    for node in _walk(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            names.update(str(entry.get("key", "")).upper() for entry in cte_map.get("map", []))
    return names


def check_sql(sql: str) -> set[str]:
    """The Query tables one SELECT reads; QueryRejected when it is anything else."""
    con = duckdb.connect()
    try:
        con.execute("SET enable_external_access=false")
        con.execute("SET lock_configuration=true")
        raw = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    finally:
        con.close()
    tree = json.loads(raw[0]) if raw else {"error": True}
    if tree.get("error"):
        message = str(tree.get("error_message") or "not valid SQL")
        if "Only SELECT" in message:
            message = "only a single SELECT statement may run in Soracom Query"
        raise QueryRejected(sanitise(message))
    if len(tree.get("statements", [])) != 1:
        raise QueryRejected("send exactly one SELECT statement")
    ctes = _cte_names(tree)
    tables: set[str] = set()
    for node in _walk(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            raise QueryRejected("table functions are not available in Soracom Query; select FROM a table")
        if kind == "BASE_TABLE":
            name = str(node.get("table_name", "")).upper()
            if node.get("catalog_name") or node.get("schema_name"):
                raise QueryRejected(f"name tables without a catalog or schema: {name}")
            if name in analysis.TABLES:
                tables.add(name)
            elif name not in ctes:
                known = ", ".join(analysis.TABLES)
                raise QueryRejected(f"table {name} does not exist; the tables are {known}")
        if node.get("class") == "FUNCTION" and _DENIED_FUNCTION.search(str(node.get("function_name", ""))):
            raise QueryRejected(f"function {node.get('function_name')} is not available in Soracom Query")
    _bind(sql)
    return tables


def _bind(sql: str) -> None:
    """Bind the SQL against empty Query tables, so an unknown column or function is a 400 at
    once rather than a FAILED query later (errors while running, like a bad cast, stay FAILED)."""
    con = duckdb.connect(config=DUCKDB_CONFIG)
    try:
        for table in analysis.TABLES:
            empty = analysis.arrow_schema(table).empty_table()  # noqa: F841 (read by DuckDB)
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM empty')
        con.execute("SET enable_external_access=false")
        con.execute("SET lock_configuration=true")
        con.sql(sql)
    except duckdb.Error as error:
        raise QueryRejected(sanitise(str(error))) from None
    finally:
        con.close()


def sanitise(message: str) -> str:
    """A DuckDB message without file paths or internals, short enough for an API answer."""
    text = re.sub(r"(/[\w.\-]+)+", "<path>", message)
    text = text.replace("Did you mean", "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3])[:500]


def column_info(relation: duckdb.DuckDBPyRelation) -> list[dict[str, str]]:
    out = []
    for name, dtype in zip(relation.columns, relation.types, strict=True):
        database_type = _database_type(str(dtype))
        out.append(
            {"name": name, "databaseType": database_type, "type": analysis.REFERENCE_TYPES[database_type]}
        )
    return out


def _database_type(duck: str) -> str:
    duck = duck.upper()
    if duck == "VARCHAR":
        return "TEXT"
    if duck in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER"):
        return "FIXED"
    if duck in ("FLOAT", "DOUBLE") or duck.startswith("DECIMAL"):
        return "REAL"
    if duck.startswith("TIMESTAMP") or duck == "DATE":
        return "TIMESTAMP_TZ"
    if duck == "BOOLEAN":
        return "BOOLEAN"
    return "VARIANT"


def _csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Timestamps as ISO 8601 UTC with milliseconds; nested values as JSON text."""
    columns = []
    for column in batch.columns:
        if pa.types.is_timestamp(column.type):
            column = pc.strftime(column.cast(pa.timestamp("ms", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
        elif pa.types.is_nested(column.type):
            column = pa.array([None if v is None else json.dumps(v, default=str) for v in column.to_pylist()])
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


@dataclass
class QueryJob:
    query_id: str
    coverage: str
    sql: str
    from_s: int
    to_s: int
    tables: set[str]
    outcome: str
    polls: int = 0
    done: bool = False
    error: str | None = None
    path: str | None = None
    row_count: int = 0
    file_size: int = 0
    uncompressed_size: int = 0
    columns: list[dict[str, str]] = field(default_factory=list)
    exec_s: float = 0.0
    export_s: float = 0.0
    downloads: dict[str, float] = field(default_factory=dict)  # token -> expiry (time.time())


class QueryRegistry:
    """The queries of this server process, their result files and the monthly execution count."""

    def __init__(self, settings: SandboxSettings) -> None:
        self._settings = settings
        self._jobs: dict[str, QueryJob] = {}
        self._by_token: dict[str, QueryJob] = {}
        self._finished: list[QueryJob] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(RUNNING_AT_ONCE)
        self._dir = tempfile.TemporaryDirectory(prefix="soracom-sandbox-queries-")
        self.used: dict[str, int] = {}  # yyyyMM -> executions

    def start(self, world: Any, coverage: str, sql: str, from_s: int, to_s: int, month: str) -> QueryJob:
        tables = check_sql(sql)
        self.used[month] = self.used.get(month, 0) + 1
        job = QueryJob(
            query_id=uuid.uuid4().hex,
            coverage=coverage,
            sql=sql,
            from_s=from_s,
            to_s=to_s,
            tables=tables,
            outcome=self._settings.query_outcome,
        )
        with self._lock:
            self._jobs[job.query_id] = job
        threading.Thread(
            target=self._run, args=(job, world), name=f"query-{job.query_id}", daemon=True
        ).start()
        return job

    def get(self, query_id: str) -> QueryJob | None:
        with self._lock:
            return self._jobs.get(query_id)

    def status(self, job: QueryJob) -> str:
        """One stage further per `query_stage_polls` polls; COMPLETED only once the file exists."""
        job.polls += 1
        stage = (
            (job.polls - 1) // max(1, self._settings.query_stage_polls)
            if self._settings.query_stage_polls
            else 3
        )
        if stage < 3 or not job.done:
            return ("STARTING", "RUNNING", "EXPORTING")[min(stage, 2)]
        return "FAILED" if job.error is not None else "COMPLETED"

    def _run(self, job: QueryJob, world: Any) -> None:
        with self._slots:
            self._execute(job, world)

    def _execute(self, job: QueryJob, world: Any) -> None:
        started = time.monotonic()
        db_path = os.path.join(self._dir.name, f"{job.query_id}.duckdb")
        try:
            con = duckdb.connect(db_path, config=DUCKDB_CONFIG)
            try:
                for table in sorted(job.tables):
                    empty = analysis.arrow_schema(table).empty_table()  # noqa: F841 (read by DuckDB)
                    con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM empty')
                    for batch in analysis.batches(world, table, job.coverage, job.from_s, job.to_s):
                        con.register("chunk", batch)
                        con.execute(f'INSERT INTO "{table}" SELECT * FROM chunk')
                        con.unregister("chunk")
                con.execute("SET enable_external_access=false")
                con.execute("SET lock_configuration=true")
                if job.outcome == "failed":
                    raise RuntimeError("the query failed (sandbox setting query_outcome=failed)")
                watchdog = threading.Timer(MAX_RUN_S, con.interrupt)
                watchdog.start()
                try:
                    relation = con.sql(job.sql)
                    job.columns = column_info(relation)
                    job.exec_s = time.monotonic() - started
                    self._export(job, relation)
                finally:
                    watchdog.cancel()
            finally:
                con.close()
        except Exception as exc:  # any failure is the query's FAILED status
            job.error = sanitise(str(exc))
            log.info("sandbox query %s failed: %s", job.query_id, job.error)
        finally:
            partial = os.path.join(self._dir.name, f"{job.query_id}.csv.gz.tmp")
            for leftover in (db_path, db_path + ".wal", partial):
                if os.path.exists(leftover):
                    os.unlink(leftover)
            job.export_s = time.monotonic() - started - job.exec_s
            job.done = True
            self._keep(job)

    def _export(self, job: QueryJob, relation: duckdb.DuckDBPyRelation) -> None:
        path = os.path.join(self._dir.name, f"{job.query_id}.csv.gz")
        reader = relation.to_arrow_reader(RESULT_BATCH_ROWS)
        names = relation.columns
        options = pa_csv.WriteOptions(quoting_style="all_valid")
        with pa.CompressedOutputStream(path + ".tmp", "gzip") as sink:
            writer: pa_csv.CSVWriter | None = None
            for batch in reader:
                ready = _csv_ready(batch)
                if writer is None:
                    writer = pa_csv.CSVWriter(sink, ready.schema, write_options=options)
                writer.write_batch(ready)
                job.row_count += batch.num_rows
                if job.row_count > MAX_RESULT_ROWS:
                    raise RuntimeError(f"the result has more than {MAX_RESULT_ROWS} rows; narrow the query")
            if writer is None:
                sink.write((",".join(f'"{n}"' for n in names) + "\n").encode())
            else:
                writer.close()
            job.uncompressed_size = sink.tell()
        os.replace(path + ".tmp", path)
        job.path = path
        job.file_size = os.path.getsize(path)

    def _keep(self, job: QueryJob) -> None:
        with self._lock:
            self._finished.append(job)
            while len(self._finished) > KEPT_RESULTS:
                old = self._finished.pop(0)
                self._jobs.pop(old.query_id, None)
                for token in old.downloads:
                    self._by_token.pop(token, None)
                if old.path is not None and os.path.exists(old.path):
                    os.unlink(old.path)

    def download_url(self, base: str, job: QueryJob) -> str:
        token = secrets.token_urlsafe(32)
        expires = time.time() + self._settings.download_url_ttl_s
        with self._lock:
            job.downloads[token] = expires
            self._by_token[token] = job
        return f"{base}{QUERY_DOWNLOAD_PREFIX}/{token}/{job.query_id}.csv.gz?Expires={int(expires)}"

    def results_dir(self) -> Path:
        """Where results and query databases live (tests check nothing is left behind)."""
        return Path(self._dir.name)

    def by_token(self, token: str) -> QueryJob | None:
        with self._lock:
            return self._by_token.get(token)
