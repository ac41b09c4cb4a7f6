"""Dependencies between the project's apps flow one way (see README)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = [
    "members",
    "notifications",
    "wechat",
    "parent_school",
    "bookings",
    "courses",
    "events",
    "handbook",
    "recognition",
    "groups",
    "community",
    "surveys",
    "evaluation",
    "guidance",
    "volunteers",
    "certificates",
    "reports",
    "portal",
    "api",
]
IMPORT = re.compile(r"^\s*(?:from|import)\s+(\w+)", re.MULTILINE)


def test_no_app_imports_an_app_above_it():
    rank = {app: i for i, app in enumerate(LAYERS)}
    upward = []
    for app in LAYERS:
        for path in (ROOT / app).rglob("*.py"):
            if {"migrations", "tests"} & set(path.relative_to(ROOT).parts):
                continue
            for module in IMPORT.findall(path.read_text(encoding="utf-8")):
                if module in rank and rank[module] > rank[app]:
                    upward.append(f"{path.relative_to(ROOT)} imports {module}")
    assert upward == []
