"""The sandbox's synthetic Soracom operator ("the world"); see docs/sandbox-design.md."""

from sandbox.world.world import UnknownResource, World

__all__ = ["UnknownResource", "World"]
