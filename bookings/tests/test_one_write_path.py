"""Every write of an offering goes through bookings.services (one path per write).

A course session's or an event's offering holds the places, the times families
were told and the booking window. Written anywhere else, a move sends no notice,
a cancel leaves reminders going out and nothing is audited. This test reads the
product's source and fails on any write of an Offering row outside
``bookings/services.py`` and ``bookings/locking.py`` (the one lock helper).
Migrations, tests and the test-data generators (scripts/, reports/scale.py) are
not product paths.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = [
    "alliance",
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
ALLOWED = {"bookings/services.py", "bookings/locking.py", "reports/scale.py"}
# Instance writes on something named like an offering (``offering``,
# ``session.offering``, ``self.offering``…).
INSTANCE_WRITES = {"save", "delete"}
# Manager and queryset writes (and row locks: those belong to the one helper).
QUERY_WRITES = {
    "update",
    "bulk_update",
    "bulk_create",
    "create",
    "get_or_create",
    "update_or_create",
    "delete",
    "select_for_update",
}
OFFERING_NAME = re.compile(r"(^|[._])offering$", re.IGNORECASE)
OFFERING_MANAGER = re.compile(r"\bOffering\.(objects|_default_manager|_base_manager)\b")
RAW_SQL_WRITE = re.compile(
    r"\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+\"?bookings_offering\b", re.IGNORECASE
)


def offering_writes(source: str) -> list[str]:
    """Lines of ``source`` that write an Offering row (or lock one) directly."""
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = ast.unparse(node.func.value)
            method = node.func.attr
            if method in INSTANCE_WRITES and OFFERING_NAME.search(receiver):
                found.append(f"{node.lineno}: {receiver}.{method}(…)")
            elif method in QUERY_WRITES and OFFERING_MANAGER.search(receiver):
                found.append(f"{node.lineno}: {receiver}.{method}(…)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if RAW_SQL_WRITE.search(node.value):
                found.append(f"{node.lineno}: raw SQL writes bookings_offering")
    return found


def product_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if {"migrations", "tests"} & set(relative.parts):
                continue
            if relative.as_posix() in ALLOWED:
                continue
            yield relative, path.read_text(encoding="utf-8")


def test_the_detector_finds_each_kind_of_direct_offering_write():
    # given code that writes offerings in every way this test must catch
    bad = """
offering.save(update_fields=["status"])
session.offering.save()
Offering.objects.filter(pk=1).update(status="cancelled")
Offering.objects.select_for_update().get(pk=1)
Offering.objects.create(title="x")
cursor.execute("UPDATE bookings_offering SET capacity = 3")
"""
    # and code that only reads them
    fine = """
Offering.objects.filter(pk=1).values_list("pk", flat=True)
offering.refresh_from_db()
session.save(update_fields=["venue"])
Event.objects.filter(offering=offering).update(status="finished")
"""
    # then every write is found and no read is
    assert len(offering_writes(bad)) == 6
    assert offering_writes(fine) == []


def test_no_module_outside_the_bookings_services_writes_an_offering():
    scanned, writes = 0, []
    for relative, source in product_modules():
        scanned += 1
        writes.extend(f"{relative}:{line}" for line in offering_writes(source))
    assert scanned > 50  # the walk really read the product
    assert writes == []
