"""The lake: typed tables as Hive-partitioned Parquet, a DuckDB catalog over them, and SQL models.

It knows nothing of Soracom or Dagster. See docs/lake.md for the layout and guarantees.
"""

from pipelines.lake.catalog import build_catalog, open_catalog
from pipelines.lake.errors import LakeError, ModelError, PartitionError, SchemaError
from pipelines.lake.lake import Lake, WriteResult
from pipelines.lake.models import (
    SqlModel,
    ViewResult,
    build_model,
    create_views,
    discover_models,
    materialise_model,
)
from pipelines.lake.spec import TableSpec
from pipelines.lake.storage import LocalStorage, Storage, open_storage

__all__ = [
    "Lake",
    "LakeError",
    "LocalStorage",
    "ModelError",
    "PartitionError",
    "SchemaError",
    "SqlModel",
    "Storage",
    "TableSpec",
    "ViewResult",
    "WriteResult",
    "build_catalog",
    "build_model",
    "create_views",
    "discover_models",
    "materialise_model",
    "open_catalog",
    "open_storage",
]
