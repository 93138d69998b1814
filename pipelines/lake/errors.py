"""The lake's exceptions: one base class so callers can catch everything the lake refuses."""

from __future__ import annotations


class LakeError(Exception):
    """Something the lake refused to do; the message says what was wrong and what to do."""


class SchemaError(LakeError, ValueError):
    """Data (or a table spec) does not match the declared schema."""


class PartitionError(LakeError, ValueError):
    """A partition mapping or value is invalid for the table."""


class ModelError(LakeError):
    """A SQL model is malformed, references an unknown table, forms a cycle, or cannot run."""
