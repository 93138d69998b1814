"""Helpers shared by the tests and the benchmarks (building lakes from the sandbox's World).

Production code (`pipelines`, `assets`, `sandbox`) never imports this package, and the
benchmarks import it instead of `tests` (`python -m tools.imports --check`)."""
