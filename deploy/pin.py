"""Write deploy/requirements.txt: every runtime dependency of soracom-lake (not its dev or
optional extras), transitively, pinned to the version installed in this environment.

    .venv/bin/python deploy/pin.py       # after `make install`, once the tests pass

The image installs exactly these (`pip install --no-deps`), so what runs in a container is
what was tested here. tests/deploy/test_deploy_files.py checks the file against pyproject.toml.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "soracom-lake"
TARGET = Path(__file__).with_name("requirements.txt")


def runtime_closure(project: str = PROJECT) -> dict[str, str]:
    """{canonical name: installed version} of every package `project` needs at run time."""
    found: dict[str, str] = {}
    todo = [(project, frozenset[str]())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (canonicalize_name(name), extras) in seen:
            continue
        seen.add((canonicalize_name(name), extras))
        dist = metadata.distribution(name)
        for text in dist.requires or []:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if requirement.marker and not any(requirement.marker.evaluate(e) for e in environments):
                continue
            key = canonicalize_name(requirement.name)
            found.setdefault(key, metadata.version(requirement.name))
            todo.append((requirement.name, frozenset(requirement.extras)))
    found.pop(canonicalize_name(project), None)
    return found


def main() -> None:
    pins = runtime_closure()
    header = "# Written by deploy/pin.py from a tested environment: do not edit by hand.\n"
    TARGET.write_text(header + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins)))
    print(f"wrote {len(pins)} pins to {TARGET}")


if __name__ == "__main__":
    main()
