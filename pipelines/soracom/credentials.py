"""Which Soracom credentials to use, and where they come from.

Sources in order: explicit arguments, then environment variables, then a soracom-cli
profile (`~/.soracom/<name>.json`). The environment is passed in as a mapping so callers
(Dagster resources) decide what configuration the library sees; only the top-level
resolve functions default to `os.environ`.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import CredentialsError

CredentialKind = Literal["auth_key", "root", "sam_user"]


@dataclass(frozen=True, repr=False)
class Credentials:
    """One way to call `POST /auth`. `repr`/`str` never show the secret parts."""

    kind: CredentialKind
    auth_key_id: str | None = None
    auth_key: str | None = None
    email: str | None = None
    operator_id: str | None = None
    user_name: str | None = None
    password: str | None = None
    source: str = "explicit arguments"

    @classmethod
    def auth_key_pair(
        cls, auth_key_id: str, auth_key: str, source: str = "explicit arguments"
    ) -> Credentials:
        return cls("auth_key", auth_key_id=auth_key_id, auth_key=auth_key, source=source)

    @classmethod
    def root(cls, email: str, password: str, source: str = "explicit arguments") -> Credentials:
        return cls("root", email=email, password=password, source=source)

    @classmethod
    def sam_user(
        cls, operator_id: str, user_name: str, password: str, source: str = "explicit arguments"
    ) -> Credentials:
        return cls("sam_user", operator_id=operator_id, user_name=user_name, password=password, source=source)

    def __post_init__(self) -> None:
        needed = {
            "auth_key": ("auth_key_id", "auth_key"),
            "root": ("email", "password"),
            "sam_user": ("operator_id", "user_name", "password"),
        }.get(self.kind)
        if needed is None:
            raise CredentialsError(f"unknown credential kind {self.kind!r}: use auth_key, root or sam_user")
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise CredentialsError(f"{self.kind} credentials from {self.source} lack {', '.join(missing)}")

    @property
    def principal(self) -> str:
        """Who is signing in, safe to show in messages (no secret)."""
        if self.kind == "auth_key":
            return f"auth key id {self.auth_key_id}"
        if self.kind == "root":
            return f"root user {self.email}"
        return f"SAM user {self.operator_id}/{self.user_name}"

    def auth_body(self) -> dict[str, Any]:
        """The JSON body of `POST /auth` (contains secrets: never log it)."""
        if self.kind == "auth_key":
            return {"authKeyId": self.auth_key_id, "authKey": self.auth_key}
        if self.kind == "root":
            return {"email": self.email, "password": self.password}
        return {"operatorId": self.operator_id, "userName": self.user_name, "password": self.password}

    def __repr__(self) -> str:
        return f"Credentials({self.kind}, {self.principal}, from {self.source})"

    __str__ = __repr__


def profile_path(
    profile: str | None = None,
    profile_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Path of a soracom-cli profile: `<SORACOM_PROFILE_DIR or ~/.soracom>/<name>.json`."""
    env = {} if env is None else env
    name = profile or env.get("SORACOM_PROFILE") or "default"
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise CredentialsError(f"invalid profile name {name!r}: use a plain name such as 'default'")
    if profile_dir is None:
        profile_dir = env.get("SORACOM_PROFILE_DIR")
    if profile_dir is None:
        home = env.get("HOME")
        base = Path(home) if home else Path.home()
        profile_dir = base / ".soracom"
    return Path(profile_dir).expanduser() / f"{name}.json"


def load_profile(path: Path) -> dict[str, Any]:
    """Read a soracom-cli profile, refusing one that group or others can read (like the CLI)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CredentialsError(
            f"soracom-cli profile {path} does not exist: create it with `soracom configure` "
            "or set SORACOM_AUTH_KEY_ID and SORACOM_AUTH_KEY"
        ) from None
    if sys.platform != "win32" and stat.S_IMODE(mode) & 0o077:
        raise CredentialsError(
            f"soracom-cli profile {path} is readable by group or others "
            f"(mode {stat.S_IMODE(mode):o}); refusing to use it. Run: chmod 600 {path}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CredentialsError(f"cannot read soracom-cli profile {path}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"soracom-cli profile {path} is not a JSON object")
    return data


def _from_fields(fields: Mapping[str, Any], source: str) -> Credentials | None:
    """Credentials from normalised fields, or None when none of them is set."""

    def get(key: str) -> str | None:
        value = fields.get(key)
        return str(value) if value not in (None, "") else None

    key_id, key = get("auth_key_id"), get("auth_key")
    email, operator_id, user_name, password = (
        get("email"),
        get("operator_id"),
        get("user_name"),
        get("password"),
    )
    if key_id or key:
        if not (key_id and key):
            raise CredentialsError(f"{source}: an auth key needs both the auth key id and the auth key")
        return Credentials.auth_key_pair(key_id, key, source=source)
    if user_name:
        if not (operator_id and password):
            raise CredentialsError(f"{source}: a SAM user needs the operator id, user name and password")
        return Credentials.sam_user(operator_id, user_name, password, source=source)
    if email:
        if not password:
            raise CredentialsError(f"{source}: a root user needs both email and password")
        return Credentials.root(email, password, source=source)
    if password:
        raise CredentialsError(f"{source}: a password is set without an email or a SAM user name")
    return None


def resolve_credentials(
    *,
    auth_key_id: str | None = None,
    auth_key: str | None = None,
    email: str | None = None,
    password: str | None = None,
    operator_id: str | None = None,
    user_name: str | None = None,
    profile: str | None = None,
    profile_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Credentials:
    """Find credentials: explicit arguments, then env, then a soracom-cli profile.

    Env: `SORACOM_AUTH_KEY_ID` + `SORACOM_AUTH_KEY`; or `SORACOM_OPERATOR_ID` +
    `SORACOM_USER_NAME` + `SORACOM_PASSWORD` (SAM user); or `SORACOM_EMAIL` +
    `SORACOM_PASSWORD` (root). Profile: `SORACOM_PROFILE` (default `default`) in
    `SORACOM_PROFILE_DIR` (default `~/.soracom`).
    """
    env = os.environ if env is None else env
    explicit = _from_fields(
        {
            "auth_key_id": auth_key_id,
            "auth_key": auth_key,
            "email": email,
            "password": password,
            "operator_id": operator_id,
            "user_name": user_name,
        },
        "explicit arguments",
    )
    if explicit:
        return explicit
    from_env = _from_fields(
        {
            "auth_key_id": env.get("SORACOM_AUTH_KEY_ID"),
            "auth_key": env.get("SORACOM_AUTH_KEY"),
            "email": env.get("SORACOM_EMAIL"),
            "password": env.get("SORACOM_PASSWORD"),
            "operator_id": env.get("SORACOM_OPERATOR_ID"),
            "user_name": env.get("SORACOM_USER_NAME"),
        },
        "environment variables",
    )
    if from_env:
        return from_env
    path = profile_path(profile, profile_dir, env)
    named = bool(profile or env.get("SORACOM_PROFILE"))
    if not path.exists() and not named:
        raise CredentialsError(
            "no Soracom credentials found: set SORACOM_AUTH_KEY_ID and SORACOM_AUTH_KEY, "
            f"or create the soracom-cli profile {path} (`soracom configure`)"
        )
    data = load_profile(path)
    from_profile = _from_fields(
        {
            "auth_key_id": data.get("authKeyId"),
            "auth_key": data.get("authKey"),
            "email": data.get("email"),
            "password": data.get("password"),
            "operator_id": data.get("operatorId"),
            "user_name": data.get("username") or data.get("userName"),
        },
        f"profile {path}",
    )
    if from_profile is None:
        raise CredentialsError(
            f"profile {path} holds no credentials (expected authKeyId/authKey, email/password "
            "or operatorId/username/password)"
        )
    return from_profile
