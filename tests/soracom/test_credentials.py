"""Credential and endpoint resolution: order of sources, profiles, permissions, redaction."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from pipelines.soracom import (
    Credentials,
    CredentialsError,
    resolve_credentials,
    resolve_endpoint,
)


def write_profile(directory: Path, name: str, data: dict, mode: int = 0o600) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(data))
    os.chmod(path, mode)
    return path


def test_explicit_arguments_win_over_env_and_profile(tmp_path):
    write_profile(tmp_path, "default", {"authKeyId": "keyId-profile", "authKey": "secret-profile"})
    env = {
        "SORACOM_AUTH_KEY_ID": "keyId-env",
        "SORACOM_AUTH_KEY": "secret-env",
        "SORACOM_PROFILE_DIR": str(tmp_path),
    }
    creds = resolve_credentials(auth_key_id="keyId-arg", auth_key="secret-arg", env=env)
    assert (creds.kind, creds.auth_key_id, creds.auth_key) == ("auth_key", "keyId-arg", "secret-arg")


def test_env_wins_over_profile(tmp_path):
    write_profile(tmp_path, "default", {"authKeyId": "keyId-profile", "authKey": "secret-profile"})
    env = {
        "SORACOM_AUTH_KEY_ID": "keyId-env",
        "SORACOM_AUTH_KEY": "secret-env",
        "SORACOM_PROFILE_DIR": str(tmp_path),
    }
    creds = resolve_credentials(env=env)
    assert creds.auth_key_id == "keyId-env"
    assert creds.source == "environment variables"


def test_env_root_and_sam_user():
    root = resolve_credentials(env={"SORACOM_EMAIL": "a@example.com", "SORACOM_PASSWORD": "pw"})
    assert root.kind == "root"
    assert root.auth_body() == {"email": "a@example.com", "password": "pw"}
    sam = resolve_credentials(
        env={"SORACOM_OPERATOR_ID": "OP1", "SORACOM_USER_NAME": "bot", "SORACOM_PASSWORD": "pw"}
    )
    assert sam.kind == "sam_user"
    assert sam.auth_body() == {"operatorId": "OP1", "userName": "bot", "password": "pw"}


def test_incomplete_env_is_a_clear_error():
    with pytest.raises(CredentialsError, match="both the auth key id and the auth key"):
        resolve_credentials(env={"SORACOM_AUTH_KEY_ID": "keyId-x"})
    with pytest.raises(CredentialsError, match="SAM user needs"):
        resolve_credentials(env={"SORACOM_USER_NAME": "bot", "SORACOM_PASSWORD": "pw"})


def test_profile_is_read_with_lowercase_username(tmp_path):
    write_profile(
        tmp_path, "work", {"operatorId": "OP9", "username": "bot", "password": "pw", "coverageType": "g"}
    )
    env = {"SORACOM_PROFILE": "work", "SORACOM_PROFILE_DIR": str(tmp_path)}
    creds = resolve_credentials(env=env)
    assert (creds.kind, creds.operator_id, creds.user_name) == ("sam_user", "OP9", "bot")
    assert str(tmp_path / "work.json") in creds.source
    assert resolve_endpoint(env=env) == "https://g.api.soracom.io"


def test_profile_from_home_default(tmp_path):
    write_profile(tmp_path / ".soracom", "default", {"authKeyId": "keyId-h", "authKey": "secret-h"})
    assert resolve_credentials(env={"HOME": str(tmp_path)}).auth_key_id == "keyId-h"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_profile_readable_by_others_is_refused(tmp_path, mode):
    path = write_profile(tmp_path, "default", {"authKeyId": "keyId-p", "authKey": "secret-p"}, mode=mode)
    with pytest.raises(CredentialsError) as info:
        resolve_credentials(env={"SORACOM_PROFILE_DIR": str(tmp_path)})
    assert f"chmod 600 {path}" in str(info.value)
    assert "secret-p" not in str(info.value)


def test_missing_named_profile_and_no_credentials(tmp_path):
    with pytest.raises(CredentialsError, match="does not exist"):
        resolve_credentials(env={"SORACOM_PROFILE": "nope", "SORACOM_PROFILE_DIR": str(tmp_path)})
    with pytest.raises(CredentialsError, match="no Soracom credentials found"):
        resolve_credentials(env={"SORACOM_PROFILE_DIR": str(tmp_path)})


def test_profile_without_credentials_or_bad_json(tmp_path):
    write_profile(tmp_path, "empty", {"coverageType": "jp"})
    with pytest.raises(CredentialsError, match="holds no credentials"):
        resolve_credentials(profile="empty", profile_dir=tmp_path, env={})
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    os.chmod(path, 0o600)
    with pytest.raises(CredentialsError, match="cannot read"):
        resolve_credentials(profile="broken", profile_dir=tmp_path, env={})


def test_credentials_repr_hides_secrets():
    for creds in (
        Credentials.auth_key_pair("keyId-abc", "secret-TOPSECRET"),
        Credentials.root("me@example.com", "pw-TOPSECRET"),
        Credentials.sam_user("OP1", "bot", "pw-TOPSECRET"),
    ):
        for text in (repr(creds), str(creds), f"{creds}", creds.principal):
            assert "TOPSECRET" not in text


def test_endpoint_order(tmp_path):
    write_profile(tmp_path, "default", {"authKeyId": "k", "authKey": "s", "endpoint": "http://127.0.0.1:9/"})
    base = {"SORACOM_PROFILE_DIR": str(tmp_path)}
    assert (
        resolve_endpoint(env={**base, "SORACOM_ENDPOINT": "https://example.test/v1"})
        == "https://example.test"
    )
    assert resolve_endpoint("g", env=base) == "https://g.api.soracom.io"
    assert resolve_endpoint(env={**base, "SORACOM_COVERAGE_TYPE": "jp"}) == "https://api.soracom.io"
    assert resolve_endpoint(env=base) == "http://127.0.0.1:9"
    assert resolve_endpoint(env={"SORACOM_PROFILE_DIR": str(tmp_path / "none")}) == "https://api.soracom.io"


def test_bad_endpoint_and_coverage():
    with pytest.raises(CredentialsError, match="unknown coverage"):
        resolve_endpoint("eu", env={})
    with pytest.raises(CredentialsError, match="not an http"):
        resolve_endpoint(endpoint="api.soracom.io", env={})
