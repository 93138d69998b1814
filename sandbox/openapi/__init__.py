"""The vendored official Soracom OpenAPI file (MIT, see LICENSE beside it), the contract the
sandbox is tested against; shipped as package data so tests never depend on a machine path."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).with_name("soracom-api.en.yaml")


@cache
def load_spec() -> dict[str, Any]:
    """The parsed spec (parsed once per process: the file is about 1 MB)."""
    if not SPEC_PATH.exists():
        raise FileNotFoundError(
            f"the vendored OpenAPI file is missing at {SPEC_PATH}; restore it from git "
            "(sandbox/openapi/soracom-api.en.yaml) or reinstall the package"
        )
    with SPEC_PATH.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
