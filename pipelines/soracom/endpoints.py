"""Which API endpoint to call, chosen the way soracom-cli chooses it.

Order: `SORACOM_ENDPOINT`, then the coverage given by the caller, then
`SORACOM_COVERAGE_TYPE`, then the profile's `endpoint`, then the profile's
`coverageType`, then Japan coverage. Endpoints are origins (`https://api.soracom.io`);
the client appends `/v1` and the operation path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from .credentials import load_profile, profile_path
from .errors import CredentialsError

COVERAGE_ENDPOINTS: dict[str, str] = {
    "jp": "https://api.soracom.io",
    "g": "https://g.api.soracom.io",
}


def coverage_endpoint(coverage: str) -> str:
    """The production endpoint of a coverage type (`jp` or `g`)."""
    try:
        return COVERAGE_ENDPOINTS[coverage]
    except KeyError:
        raise CredentialsError(
            f"unknown coverage type {coverage!r}: use 'jp' (Japan) or 'g' (global)"
        ) from None


def check_endpoint(endpoint: str) -> str:
    """Validate an endpoint URL and drop a trailing slash or `/v1`."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CredentialsError(
            f"endpoint {endpoint!r} is not an http(s) URL: use e.g. https://api.soracom.io"
        )
    if parts.query or parts.fragment:
        raise CredentialsError(f"endpoint {endpoint!r} must not carry a query or fragment")
    cleaned = endpoint.rstrip("/")
    if cleaned.endswith("/v1"):
        cleaned = cleaned[: -len("/v1")]
    return cleaned


def resolve_endpoint(
    coverage: str | None = None,
    *,
    endpoint: str | None = None,
    profile: str | None = None,
    profile_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The API origin to use (without `/v1`)."""
    env = os.environ if env is None else env
    chosen = endpoint or env.get("SORACOM_ENDPOINT")
    if chosen:
        return check_endpoint(chosen)
    coverage = coverage or env.get("SORACOM_COVERAGE_TYPE")
    if coverage:
        return coverage_endpoint(coverage)
    path = profile_path(profile, profile_dir, env)
    if path.exists() or profile or env.get("SORACOM_PROFILE"):
        data = load_profile(path)
        if data.get("endpoint"):
            return check_endpoint(str(data["endpoint"]))
        return coverage_endpoint("g" if data.get("coverageType") == "g" else "jp")
    return coverage_endpoint("jp")


def api_base_url(endpoint: str) -> str:
    """`<endpoint>/v1`: the prefix every operation path is appended to."""
    return check_endpoint(endpoint) + "/v1"
