"""Bad arguments and settings end a command with one clear line and exit code 2, before any
sandbox or run starts, and never with a traceback (issue 14 item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import cli, settings


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = cli.main(argv)
    except SystemExit as stop:  # argparse's own refusal
        code = int(stop.code or 0)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text and "Stack Trace" not in text, text
    return code, text


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for one in settings.SETTINGS:
        monkeypatch.delenv(one.name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["demo", "--days", "0"], "argument --days: 0 is not allowed: give 1 or more"),
        (["demo", "--sims", "-5"], "argument --sims: -5 is not allowed: give 1 or more"),
        (["demo", "--days", "seven"], "argument --days: 'seven' is not a whole number"),
    ],
)
def test_a_bad_count_is_refused_by_the_parser(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _run(argv, capsys)
    assert code == 2 and expected in text, text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({settings.AUTH_KEY_ID: "keyId-x"}, "SORACOM_AUTH_KEY_ID is set but SORACOM_AUTH_KEY is not"),
        ({settings.AUTH_KEY: "secret-x"}, "SORACOM_AUTH_KEY is set but SORACOM_AUTH_KEY_ID is not"),
        ({settings.MAX_CONCURRENCY: "lots"}, "SORACOM_MAX_CONCURRENCY='lots' is not valid"),
        ({settings.RETENTION_WARN_DAYS: "abc"}, "SORACOM_RETENTION_WARN_DAYS='abc' is not valid"),
        ({"SORACOM_RETENTION_WARN_SIMS": "soon"}, "SORACOM_RETENTION_WARN_SIMS='soon' is not valid"),
        ({settings.SHRINK_MIN_FRACTION: "2"}, "SORACOM_SHRINK_MIN_FRACTION='2' is not valid"),
    ],
)
def test_a_bad_setting_ends_the_demo_at_start_naming_it(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, text = _run(["demo", "--real", "--data-dir", "data"], capsys)
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and errors[0].startswith(f"error: {expected}"), text
    assert "sandbox:" not in text and "loading" not in text  # nothing started
    assert "secret-x" not in text


def test_every_bad_setting_is_said_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(settings.MAX_CONCURRENCY, "lots")
    monkeypatch.setenv(settings.RETENTION_WARN_DAYS, "abc")
    code, text = _run(["demo", "--data-dir", "data"], capsys)
    assert code == 2 and len([line for line in text.splitlines() if line.startswith("error:")]) == 2, text


def test_a_half_key_pair_does_not_matter_for_the_sandbox_demo() -> None:
    from pipelines.demo import settings_problems

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(settings.AUTH_KEY_ID, "keyId-x")
        assert settings_problems(real=False) == []
        assert settings_problems(real=True) == [
            "SORACOM_AUTH_KEY_ID is set but SORACOM_AUTH_KEY is not: set both, or neither"
        ]


@pytest.mark.parametrize("content", [b"hello, this is not a database\n", bytes(range(256)) * 16])
def test_report_on_a_file_that_is_not_duckdb_says_so(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    not_duckdb = tmp_path / "notes.txt"
    not_duckdb.write_bytes(content)
    code, text = _run(["report", "--catalog", str(not_duckdb)], capsys)
    assert code == 2, text
    assert text.strip() == (
        f"error: {not_duckdb} is not a DuckDB catalog: point --catalog (or SORACOM_CATALOG_PATH) at the "
        "catalog file a load wrote (data/soracom.duckdb by default)"
    )


def test_report_on_a_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _run(["report", "--catalog", str(tmp_path)], capsys)
    assert code == 2 and "is not a DuckDB catalog" in text, text
