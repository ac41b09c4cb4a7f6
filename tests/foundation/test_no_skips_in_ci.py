"""CI runs every test: with CI set, one skipped (or xfailed) test fails the run,
also when pytest-xdist runs the tests in worker processes; without CI a skip is
only reported. The plugin (tests/no_skips.py) is run here in a pytest of its own
on a two-test file, apart from Django."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TESTS = """
import pytest

def test_runs():
    assert True

def test_needs_a_program_the_machine_lacks():
    pytest.skip("no such program")

@pytest.mark.xfail(reason="known to fail")
def test_expected_to_fail():
    assert False
"""


def _pytest(tmp_path: Path, *args: str, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_sample.py").write_text(TESTS, encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CI", "DJANGO_SETTINGS_MODULE") and not key.startswith("PYTEST_")
    }
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.no_skips",
            "--rootdir",
            str(tmp_path),
            *args,
            "test_sample.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one process", "xdist"])
def test_in_ci_a_skip_or_xfail_fails_the_run_and_is_named(tmp_path, workers):
    result = _pytest(tmp_path, *workers, ci="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 skipped, 1 xfailed" in result.stdout
    assert "CI runs every test: these did not run" in result.stdout
    assert "test_needs_a_program_the_machine_lacks: Skipped: no such program" in result.stdout
    assert "test_expected_to_fail: xfail known to fail" in result.stdout


def test_outside_ci_a_skip_is_only_reported(tmp_path):
    result = _pytest(tmp_path, ci=None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped, 1 xfailed" in result.stdout
    assert "did not run" not in result.stdout


def test_a_run_where_everything_ran_passes_in_ci(tmp_path):
    result = _pytest(tmp_path, "-k", "runs", ci="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 2 deselected" in result.stdout


def test_the_suite_loads_the_plugin(request):
    # the root conftest.py names it, so `make test` (and CI) runs with it
    assert request.config.pluginmanager.has_plugin("tests.no_skips")
