"""Soracom API client: auth, pagination, retries, rate limits and exports.

Plain asyncio + httpx, no Dagster. See docs/client.md for configuration.
"""

from .api import SoracomClient, check_setup
from .client import ApiResponse, CoreClient
from .credentials import Credentials, load_profile, profile_path, resolve_credentials
from .csv import parse_csv
from .endpoints import COVERAGE_ENDPOINTS, api_base_url, resolve_endpoint
from .errors import (
    CredentialsError,
    CredentialsRejectedError,
    ExportError,
    PaginationLoopError,
    SoracomAPIError,
    SoracomAuthError,
    SoracomError,
    SoracomRetryError,
    SoracomSetupError,
)
from .query import QueryError, QueryResult, QueryUnavailable
from .settings import ClientSettings
from .stats import ClientStats
from .times import to_epoch_ms, to_epoch_s, yyyymm, yyyymmdd

__all__ = [
    "COVERAGE_ENDPOINTS",
    "ApiResponse",
    "ClientSettings",
    "ClientStats",
    "CoreClient",
    "Credentials",
    "CredentialsError",
    "CredentialsRejectedError",
    "ExportError",
    "PaginationLoopError",
    "QueryError",
    "QueryResult",
    "QueryUnavailable",
    "SoracomAPIError",
    "SoracomAuthError",
    "SoracomClient",
    "SoracomError",
    "SoracomRetryError",
    "SoracomSetupError",
    "api_base_url",
    "check_setup",
    "load_profile",
    "parse_csv",
    "profile_path",
    "resolve_credentials",
    "resolve_endpoint",
    "to_epoch_ms",
    "to_epoch_s",
    "yyyymm",
    "yyyymmdd",
]
