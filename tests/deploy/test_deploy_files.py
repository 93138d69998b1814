"""The reference deployment (deploy/) is checked here, since neither Docker nor Kubernetes
runs in the test suite: the compose file against the Compose spec's keys, the Helm values
against the keys Dagster's chart documents (key lists vendored in deploy/schemas/, sources
noted there), and the Dockerfile's paths and commands against the repository."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|AUTH_KEY|TOKEN|WEBHOOK", re.IGNORECASE)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def vendored(name: str) -> dict[str, Any]:
    return json.loads((DEPLOY / "schemas" / name).read_text())


# --- docker-compose.yaml -------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(DEPLOY / "docker-compose.yaml")


def test_compose_uses_only_keys_of_the_compose_spec(compose: dict[str, Any]) -> None:
    spec = vendored("compose-keys.json")
    unknown = [k for k in compose if k not in spec["top_level"] and not k.startswith("x-")]
    for name, service in compose["services"].items():
        unknown += [f"{name}.{k}" for k in service if k not in spec["service"]]
        if isinstance(service.get("build"), dict):
            unknown += [f"{name}.build.{k}" for k in service["build"] if k not in spec["build"]]
        unknown += [
            f"{name}.healthcheck.{k}" for k in service.get("healthcheck", {}) if k not in spec["healthcheck"]
        ]
        for other, condition in (service.get("depends_on") or {}).items():
            unknown += [f"{name}.depends_on.{other}.{k}" for k in condition if k not in spec["depends_on"]]
            assert condition["condition"] in spec["depends_on_conditions"], (name, other)
            assert other in compose["services"], f"{name} depends on a service that does not exist: {other}"
    assert unknown == []


def test_compose_runs_the_five_services_on_postgres_and_minio(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "minio", "code-server", "webserver", "daemon"} <= set(services)
    code = services["code-server"]
    assert code["command"][:5] == ["dagster", "api", "grpc", "-m", "pipelines.definitions"]
    assert code["environment"]["SORACOM_LAKE_ROOT"].startswith("s3://")
    for name in ("code-server", "webserver", "daemon"):
        assert "DAGSTER_PG_URL" in services[name]["environment"], name
    workspace = load_yaml(DEPLOY / "workspace.yaml")
    server = workspace["load_from"][0]["grpc_server"]
    assert (server["host"], server["port"]) == ("code-server", 4000)
    assert code["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (
        DEPLOY / code["build"]["context"] / code["build"]["dockerfile"]
    ).resolve() == DEPLOY / "Dockerfile"
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, missing from deploy/"
            else:
                assert source in compose["volumes"], f"{name} mounts an undeclared volume {source}"
        for env_file in service.get("env_file", []):
            assert f"deploy/{env_file}" in (REPO / ".gitignore").read_text().split(), (
                "the .env must be ignored"
            )
            assert (DEPLOY / f"{env_file}.example").exists()


def test_compose_holds_no_secret_value(compose: dict[str, Any]) -> None:
    """Secrets come from deploy/.env through `${VAR}` (or env_file), never written here."""
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_WORDS.search(key) or ("://" in str(value) and "@" in str(value)):
                assert "${" in str(value), f"{name}.{key} holds a literal secret"
    example = (DEPLOY / ".env.example").read_text()
    assert all(
        line.split("=", 1)[1] in ("", "soracom-lake", "jp")
        for line in example.splitlines()
        if "=" in line and not line.startswith("#")
    )


# --- Helm values ---------------------------------------------------------------------------


def dotted_paths(value: Any, prefix: str = "") -> list[str]:
    """`a.b`, `a.list[].c` for every key of a mapping, lists of mappings included."""
    if isinstance(value, dict):
        out = []
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out += [path, *dotted_paths(inner, path)]
        return out
    if isinstance(value, list):
        return [p for item in value for p in dotted_paths(item, prefix + "[]")]
    return []


def leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted path, value) of every scalar."""
    if isinstance(value, dict):
        return [leaf for key, inner in value.items() for leaf in leaves(inner, f"{prefix}.{key}".lstrip("."))]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item, prefix + "[]")]
    return [(prefix, value)]


def allowed(path: str, keys: set[str]) -> bool:
    """A documented key, a key on the way to one, or a key under a free-form `.*` map."""
    if path in keys or any(k.startswith((path + ".", path + "[]")) for k in keys):
        return True
    parts = path.split(".")
    return any(".".join(parts[:n]) + ".*" in keys for n in range(1, len(parts)))


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return load_yaml(DEPLOY / "helm" / "values.yaml")


def test_helm_values_use_only_keys_the_dagster_chart_documents(values: dict[str, Any]) -> None:
    chart = vendored("dagster-chart-keys.json")
    keys = set(chart["keys"])
    assert [p for p in dotted_paths(values) if not allowed(p, keys)] == []
    assert values["runLauncher"]["type"] in chart["enums"]["runLauncher.type"]
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] in chart["enums"]["dagsterDaemon.runCoordinator.type"]
    for deployment in values["dagster-user-deployments"]["deployments"]:
        assert deployment["image"]["pullPolicy"] in chart["enums"]["pullPolicy"]


def test_helm_values_deploy_the_code_location_with_secrets_from_kubernetes(values: dict[str, Any]) -> None:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "pipelines.definitions"]
    assert deployment["envSecrets"] == [{"name": "soracom-lake-api"}]
    assert deployment["image"]["tag"] != "latest"
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert launcher["envSecrets"] == [{"name": "soracom-lake-api"}]
    assert "postgresqlPassword" not in values["postgresql"]
    assert values["global"]["postgresqlSecretName"] and values["generatePostgresqlPasswordSecret"] is False
    for path, value in leaves(values):
        key = path.rsplit(".", 1)[-1]
        if isinstance(value, str) and SECRET_WORDS.search(key) and not key.endswith("SecretName"):
            raise AssertionError(f"{path} holds a secret value: use a Kubernetes secret (envSecrets)")


def test_helm_values_keep_the_pool_limit_and_the_run_policies_of_the_instance_files(
    values: dict[str, Any],
) -> None:
    shipped = load_yaml(REPO / "pipelines" / "dagster_instance_postgres.yaml")
    assert values["additionalInstanceConfig"]["concurrency"]["pools"] == shipped["concurrency"]["pools"]
    daemon = values["dagsterDaemon"]
    limits = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert {"key": "soracom-lake/load", "limit": 1} in limits  # one load at a time (see the values)
    assert daemon["runRetries"] == {
        "enabled": True,
        "maxRetries": shipped["run_retries"]["max_retries"],
        "retryOnAssetOrOpFailure": shipped["run_retries"]["retry_on_asset_or_op_failure"],
    }
    assert daemon["runMonitoring"]["enabled"] is True


# --- Dockerfile ----------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_copies_files_that_exist_and_every_package_the_project_ships() -> None:
    copied = []
    for op, args in instructions():
        if op == "COPY":
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            for source in parts[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
                copied.append(source)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    assert set(packages) <= set(copied), "a package of the wheel is not copied into the image"
    assert "sql" in copied  # setup.py puts it in the wheel


def test_dockerfile_runs_as_a_user_from_a_pinned_base_and_bakes_no_secret() -> None:
    ops = instructions()
    base = next(args for op, args in ops if op == "FROM")
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), f"base image not pinned to a release: {base}"
    user = [args for op, args in ops if op == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    for op, args in ops:
        if op in ("ENV", "ARG"):
            assert not SECRET_WORDS.search(args), f"{op} {args}: a secret would stay in a layer"
    run_text = " ".join(args for op, args in ops if op == "RUN")
    for path in re.findall(r"(?:pipelines|deploy)/[\w./-]+\.ya?ml", run_text):
        assert (REPO / path).exists(), f"RUN uses {path}, missing"
    cmd = json.loads(next(args for op, args in reversed(ops) if op == "CMD"))
    module = cmd[cmd.index("-m") + 1]
    assert (REPO / (module.replace(".", "/") + ".py")).exists()


def test_the_image_pins_every_runtime_dependency_within_pyproject() -> None:
    pins = {}
    for line in (DEPLOY / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned with ==: {line}"
            pins[canonicalize_name(name)] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, (
            f"{name} is a dependency but not pinned in deploy/requirements.txt (run deploy/pin.py)"
        )
        assert requirement.specifier.contains(pins[name]), (
            f"{name}=={pins[name]} is outside {requirement.specifier}"
        )
    dev = {canonicalize_name(Requirement(t).name) for t in project["optional-dependencies"]["dev"]}
    # jsonschema and sqlalchemy are also runtime dependencies of dagster (dev only bounds them)
    assert not dev & set(pins) - {"jsonschema", "sqlalchemy"}, "a dev-only package would ship in the image"
