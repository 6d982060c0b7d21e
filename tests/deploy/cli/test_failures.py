"""`cli_failures.explain`: the exit code and lines for exceptions the subprocess tests do
not reach easily."""

from __future__ import annotations

import pytest

from tracklog.deploy.cli.failures import CliFailure, ExitCode, explain


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


def test_an_import_error_wrapping_a_missing_module_names_its_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.argv", ["tracklog", "replay", "--yes"])
    try:
        try:
            raise ModuleNotFoundError("No module named 'boto3'", name="boto3")
        except ImportError as missing:
            raise ImportError("an s3:// archive root needs boto3") from missing
    except ImportError as error:
        failure = explain(error)
    assert failure.code == ExitCode.MISSING_EXTRA
    assert failure.lines() == [
        "error: `tracklog replay` needs the s3 extra, which is not installed "
        "(an s3:// archive root needs boto3)",
        "hint: run: pip install 'tracklog[s3]'",
    ]


def test_an_unknown_import_error_is_a_plain_failure() -> None:
    failure = explain(_raised(ModuleNotFoundError("No module named 'nope'", name="nope")))
    assert failure.code == ExitCode.FAILED
    assert failure.lines()[0] == "error: ModuleNotFoundError: No module named 'nope'"


def test_a_cli_failure_is_itself_and_ctrl_c_is_130() -> None:
    failure = CliFailure(ExitCode.NOT_FOUND, "run 'x' not found")
    assert explain(failure) is failure
    assert failure.lines() == ["error: run 'x' not found"]
    assert explain(KeyboardInterrupt()).code == 130


def test_anything_else_points_at_verbose() -> None:
    failure = explain(_raised(RuntimeError("the ingest worker stopped unexpectedly")))
    assert failure.code == ExitCode.FAILED
    assert failure.lines() == [
        "error: RuntimeError: the ingest worker stopped unexpectedly",
        "hint: run again with -v for the traceback; `tracklog doctor` checks the set-up",
    ]
