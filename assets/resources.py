"""Dagster resources: the Soracom API, the lake and the clock, configured from the environment.

`resources_from_env()` feeds every field whose setting (`pipelines/settings.py`) is set through
`dagster.EnvVar`, so Dagster records the variable's *name* in its config and UI, never the
value; secrets reach only the client's `POST /auth` body.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipelines import settings
from pipelines.lake import Lake
from pipelines.soracom import (
    ClientSettings,
    Credentials,
    SoracomClient,
    resolve_credentials,
    resolve_endpoint,
)


class SoracomResource(dg.ConfigurableResource):
    """Credentials, endpoint(s) and coverages of the Soracom account to load.

    Credentials: an auth key pair (recommended), a SAM user, a root user, or a soracom-cli
    profile. `endpoint` overrides the production endpoint of every coverage (soracom-cli's
    `SORACOM_ENDPOINT`); `endpoint_jp`/`endpoint_g` override one coverage (the sandbox serves
    each coverage on its own URL).
    """

    auth_key_id: str | None = Field(default=None, description="SORACOM_AUTH_KEY_ID")
    auth_key: str | None = Field(default=None, description="SORACOM_AUTH_KEY (secret)")
    email: str | None = Field(default=None, description="SORACOM_EMAIL (root user)")
    password: str | None = Field(default=None, description="SORACOM_PASSWORD (secret)")
    operator_id: str | None = Field(default=None, description="SORACOM_OPERATOR_ID (SAM user)")
    user_name: str | None = Field(default=None, description="SORACOM_USER_NAME (SAM user)")
    profile: str | None = Field(default=None, description="SORACOM_PROFILE: a soracom-cli profile name")
    profile_dir: str | None = Field(default=None, description="SORACOM_PROFILE_DIR: folder of the profiles")
    coverage_type: str | None = Field(
        default=None, description="SORACOM_COVERAGE_TYPE: the coverage when `coverages` is not set"
    )
    endpoint: str | None = Field(default=None, description="SORACOM_ENDPOINT: API origin for all coverages")
    endpoint_jp: str | None = Field(default=None, description="SORACOM_ENDPOINT_JP: API origin for jp")
    endpoint_g: str | None = Field(default=None, description="SORACOM_ENDPOINT_G: API origin for g")
    coverages: str | None = Field(default=None, description="SORACOM_COVERAGES: comma-separated, jp and/or g")
    max_concurrency: int = Field(
        default=int(settings.setting(settings.MAX_CONCURRENCY, {})),
        description="SORACOM_MAX_CONCURRENCY: parallel API calls",
    )
    export_sync_max_rows: int = Field(
        default=int(settings.setting(settings.EXPORT_SYNC_MAX_ROWS, {})),
        description="SORACOM_EXPORT_SYNC_MAX_ROWS: exports expected this small or smaller run sync",
    )

    def coverage_list(self) -> tuple[str, ...]:
        """`coverages`, else the single `coverage_type` (soracom-cli's variable), else the default."""
        if self.coverages:
            return settings.parse_coverages(self.coverages)
        if self.coverage_type:
            return (
                str(settings.value(settings.COVERAGE_TYPE, {settings.COVERAGE_TYPE: self.coverage_type})),
            )
        return settings.parse_coverages(settings.setting(settings.COVERAGES, {}))

    def _library_env(self) -> dict[str, str]:
        """The only environment the client library sees: what this resource was configured with."""
        env = {"HOME": os.path.expanduser("~")}
        if self.profile_dir:
            env[settings.PROFILE_DIR] = self.profile_dir
        return env

    def credentials(self) -> Credentials:
        return resolve_credentials(
            auth_key_id=self.auth_key_id,
            auth_key=self.auth_key,
            email=self.email,
            password=self.password,
            operator_id=self.operator_id,
            user_name=self.user_name,
            profile=self.profile,
            env=self._library_env(),
        )

    def endpoint_for(self, coverage: str) -> str:
        override = {"jp": self.endpoint_jp, "g": self.endpoint_g}.get(coverage) or self.endpoint
        return resolve_endpoint(coverage, endpoint=override, profile=self.profile, env=self._library_env())

    def client_settings(self) -> ClientSettings:
        return ClientSettings(
            max_concurrency=self.max_concurrency, export_sync_max_rows=self.export_sync_max_rows
        )

    def client(self, coverage: str) -> SoracomClient:
        """An unopened client for one coverage: use as `async with resource.client("jp") as c:`."""
        return SoracomClient(
            self.credentials(),
            endpoint=self.endpoint_for(coverage),
            coverage=coverage,
            settings=self.client_settings(),
        )

    def describe(self) -> str:
        """Where loads go, for logs: endpoints and coverages, no secrets."""
        return ", ".join(f"{c} -> {self.endpoint_for(c)}" for c in self.coverage_list())


class LakeResource(dg.ConfigurableResource):
    """Where the Parquet lake and the DuckDB catalog live."""

    root: str = Field(default=settings.setting(settings.LAKE_ROOT, {}), description="SORACOM_LAKE_ROOT")
    catalog_path: str = Field(
        default=settings.setting(settings.CATALOG_PATH, {}), description="SORACOM_CATALOG_PATH"
    )

    def lake(self) -> Lake:
        return Lake(self.root)

    def catalog_file(self) -> Path:
        return Path(self.catalog_path).expanduser().resolve()


class ClockResource(dg.ConfigurableResource):
    """The pipeline's one "now": the wall clock (`live`), or a fixed instant (`SORACOM_NOW`) so a
    whole load can run as of a past moment against a sandbox started with the same `--now`.

    Every asset, check, schedule fallback and sensor takes its time from here, once per run, so
    one run never disagrees with itself across a month or day boundary."""

    now_setting: str = Field(default=settings.LIVE, description="SORACOM_NOW: `live` or an ISO instant")

    def fixed(self) -> datetime | None:
        return settings.parse_now(settings.NOW, self.now_setting)

    def now(self) -> datetime:
        """The current instant, tz-aware UTC."""
        return self.fixed() or datetime.now(UTC)


def _from_env(name: str, env: Mapping[str, str]) -> dg.EnvVar | None:
    """`EnvVar(name)` when the variable is set (non-empty), else None (use the default)."""
    return dg.EnvVar(name) if env.get(name, "").strip() else None


def soracom_resource_from_env(env: Mapping[str, str] | None = None) -> SoracomResource:
    env = os.environ if env is None else env
    fields = {
        "auth_key_id": settings.AUTH_KEY_ID,
        "auth_key": settings.AUTH_KEY,
        "email": settings.EMAIL,
        "password": settings.PASSWORD,
        "operator_id": settings.OPERATOR_ID,
        "user_name": settings.USER_NAME,
        "profile": settings.PROFILE,
        "profile_dir": settings.PROFILE_DIR,
        "coverage_type": settings.COVERAGE_TYPE,
        "endpoint": settings.ENDPOINT,
        "endpoint_jp": settings.ENDPOINT_JP,
        "endpoint_g": settings.ENDPOINT_G,
        "coverages": settings.COVERAGES,
    }
    config: dict[str, object] = {}
    for field, name in fields.items():
        value = _from_env(name, env)
        if value is not None:
            config[field] = value
    if env.get(settings.MAX_CONCURRENCY, "").strip():
        config["max_concurrency"] = dg.EnvVar.int(settings.MAX_CONCURRENCY)
    if env.get(settings.EXPORT_SYNC_MAX_ROWS, "").strip():
        config["export_sync_max_rows"] = dg.EnvVar.int(settings.EXPORT_SYNC_MAX_ROWS)
    return SoracomResource(**config)


def lake_resource_from_env(env: Mapping[str, str] | None = None) -> LakeResource:
    env = os.environ if env is None else env
    return LakeResource(
        root=_from_env(settings.LAKE_ROOT, env) or settings.DEFAULTS[settings.LAKE_ROOT],
        catalog_path=_from_env(settings.CATALOG_PATH, env) or settings.DEFAULTS[settings.CATALOG_PATH],
    )


def clock_resource_from_env(env: Mapping[str, str] | None = None) -> ClockResource:
    env = os.environ if env is None else env
    value = _from_env(settings.NOW, env)
    return ClockResource(now_setting=value) if value is not None else ClockResource()


def resources_from_env(env: Mapping[str, str] | None = None) -> dict[str, dg.ConfigurableResource]:
    return {
        "soracom": soracom_resource_from_env(env),
        "lake": lake_resource_from_env(env),
        "clock": clock_resource_from_env(env),
    }
