"""Moved to `assets/resources.py` (the assets' own resources); kept so older imports still work."""

from assets.resources import (
    ClockResource,
    LakeResource,
    SoracomResource,
    clock_resource_from_env,
    lake_resource_from_env,
    resources_from_env,
    soracom_resource_from_env,
)

__all__ = [
    "ClockResource",
    "LakeResource",
    "SoracomResource",
    "clock_resource_from_env",
    "lake_resource_from_env",
    "resources_from_env",
    "soracom_resource_from_env",
]
