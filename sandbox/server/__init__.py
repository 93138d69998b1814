"""The sandbox's HTTP server: a local stand-in for the Soracom API v1 (see docs/sandbox-design.md)."""

from sandbox.server.app import OPERATIONS, create_app
from sandbox.server.settings import SandboxSettings
from sandbox.server.state import SandboxState

__all__ = ["OPERATIONS", "SandboxSettings", "SandboxState", "create_app"]
