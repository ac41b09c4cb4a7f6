"""In CI nothing is skipped: a skipped or xfailed test fails the run.

A test that needs something the machine lacks (Chromium, LibreOffice, nginx, Java)
fails with a hint instead of skipping, so a green CI means every test ran. This
plugin holds the line for skips that creep in anyway: with ``CI`` set (CI runs
``.ci/run`` with ``CI=true``) a run that skipped or xfailed anything exits 1 and
names each one. Loaded by the root conftest.py; under pytest-xdist it runs in the
controller, which sees every worker's reports.
"""

from __future__ import annotations

import os

import pytest

CI_VALUES = {"1", "true", "yes", "on"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


class NoSkips:
    def __init__(self) -> None:
        self.not_run: list[str] = []

    def _note(self, report) -> None:
        if hasattr(report, "wasxfail"):
            self.not_run.append(f"{report.nodeid}: xfail {report.wasxfail}".rstrip())
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            self.not_run.append(f"{report.nodeid}: {reason}")

    def pytest_runtest_logreport(self, report) -> None:
        self._note(report)

    def pytest_collectreport(self, report) -> None:
        self._note(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session) -> None:
        if self.not_run and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.not_run:
            return
        terminalreporter.section("CI runs every test: these did not run", sep="=", red=True)
        for line in self.not_run:
            terminalreporter.line(line, red=True)


def pytest_configure(config) -> None:
    # Under xdist only the controller judges (it sees every worker's reports).
    if in_ci() and not hasattr(config, "workerinput"):
        config.pluginmanager.register(NoSkips(), "no-skips-in-ci")
