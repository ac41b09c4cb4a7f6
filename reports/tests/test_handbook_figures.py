"""The growth handbook's figures in the roll-up (reports.HandbookSnapshot): worked
out by hand, kept fresh by marks when claims and learning-family lists change,
shown on the dashboards in constant queries and scoped like the other figures,
and exported on the workbook's 成长手册 sheet."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from handbook.models import Claim, ItemKind
from handbook.signals import claims_changed
from handbook.tests.factories import ClaimFactory, HandbookItemFactory
from members.tests.factories import (
    AllianceFactory,
    FamilyFactory,
    MembershipFactory,
    MemberUnitFactory,
)
from recognition.models import LearningFamilyEntry, LearningFamilyList
from reports.models import TERM_PERIOD, HandbookSnapshot, ParticipationSnapshot, SnapshotMark
from reports.rollup import HANDBOOK_METRICS, handbook_figures
from reports.services import participation_rollup, snapshot_marks_rollup
from reports.tests.workbook import table

APPROVED, PENDING, MORE, REJECTED, WITHDRAWN = (
    Claim.Status.APPROVED,
    Claim.Status.PENDING,
    Claim.Status.MORE_INFO,
    Claim.Status.REJECTED,
    Claim.Status.WITHDRAWN,
)


def claim(d, family, item, unit, status=PENDING, term=None):
    return ClaimFactory(
        family=family,
        item=item,
        unit=unit,
        term=term or d.term,
        status=status,
        points=item.points if status == APPROVED else 0,
    )


def entry(family_list, family, unit, *, qualifies, included):
    return LearningFamilyEntry.objects.create(
        family_list=family_list,
        family=family,
        unit=unit,
        display_name="王*家庭",
        qualifies=qualifies,
        included=included,
        override_reason="" if qualifies == included else "协调人复核调整",
    )


@pytest.fixture
def handbook(dataset):
    """Items: 阅读 (home, 2), 运动 (home, 3), 家长会 (school, 5), 守时 (behaviour, 1).

    u1: F1 阅读 approved, 运动 approved, 阅读 rejected, 家长会 pending;
        F2 守时 approved, 运动 withdrawn; F3 阅读 more_info; F4 only a withdrawn claim;
        one approved claim of another term.
    u2: F1 家长会 approved.
    → u1: claims 6 (withdrawn ones are not claims made), approved 3, open 2,
          points home 2 + 3 = 5, school 0, behaviour 1, families F1, F2, F3 = 3.
      u2: claims 1, approved 1, open 0, school 5, families 1.
    Learning families (the alliance's published list): F1 of u1 included,
    F2 of u1 qualifies but left out, F3 of u2 included against the computation;
    another alliance's draft list includes F1 in u3 → u1: 1, u2: 1, u3: 0 (no row).
    """
    d = dataset
    h = SimpleNamespace()
    h.read = HandbookItemFactory(kind=ItemKind.HOME, name="测试阅读", points=2)
    h.sport = HandbookItemFactory(kind=ItemKind.HOME, name="测试运动", points=3)
    h.meeting = HandbookItemFactory(kind=ItemKind.SCHOOL, name="测试家长会", points=5)
    h.punctual = HandbookItemFactory(kind=ItemKind.BEHAVIOUR, name="测试守时", points=1)
    h.f4 = FamilyFactory()
    claim(d, d.f1, h.read, d.u1, APPROVED)
    claim(d, d.f1, h.sport, d.u1, APPROVED)
    claim(d, d.f1, h.read, d.u1, REJECTED)
    claim(d, d.f1, h.meeting, d.u1, PENDING)
    claim(d, d.f2, h.punctual, d.u1, APPROVED)
    claim(d, d.f2, h.sport, d.u1, WITHDRAWN)
    claim(d, d.f3, h.read, d.u1, MORE)
    claim(d, h.f4, h.read, d.u1, WITHDRAWN)
    claim(d, d.f1, h.read, d.u1, APPROVED, term=d.other_term)
    claim(d, d.f1, h.meeting, d.u2, APPROVED)
    h.published = LearningFamilyList.objects.create(
        alliance=d.alliance, term=d.term, status=LearningFamilyList.Status.PUBLISHED
    )
    entry(h.published, d.f1, d.u1, qualifies=True, included=True)
    entry(h.published, d.f2, d.u1, qualifies=True, included=False)
    entry(h.published, d.f3, d.u2, qualifies=False, included=True)
    h.draft = LearningFamilyList.objects.create(alliance=AllianceFactory(), term=d.term)
    entry(h.draft, d.f1, d.u3, qualifies=True, included=True)
    SnapshotMark.objects.all().delete()  # the full roll-up below covers them
    return h


U1 = {
    "claims": 6,
    "claims_approved": 3,
    "claims_open": 2,
    "points_home": 5,
    "points_school": 0,
    "points_behaviour": 1,
    "families_active": 3,
    "learning_families": 1,
}
U2 = {
    "claims": 1,
    "claims_approved": 1,
    "claims_open": 0,
    "points_home": 0,
    "points_school": 5,
    "points_behaviour": 0,
    "families_active": 1,
    "learning_families": 1,
}


def stored(term) -> dict[int, dict]:
    return {
        s.unit_id: {m: getattr(s, m) for m in HANDBOOK_METRICS}
        for s in HandbookSnapshot.objects.filter(term=term)
    }


def test_the_rollup_writes_the_handbook_figures_worked_out_by_hand(dataset, handbook):
    # when
    participation_rollup(term=dataset.term, now=dataset.now)

    # then: one row per unit with claims or learning families, nothing for u3
    assert stored(dataset.term) == {dataset.u1.pk: U1, dataset.u2.pk: U2}
    # two aggregate queries, whatever the number of claims
    with CaptureQueriesContext(connection) as ctx:
        handbook_figures(term=dataset.term)
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    assert len(selects) == 2 and all("GROUP BY" in sql for sql in selects)
    # and a second run writes the same rows with the same ids
    ids = set(HandbookSnapshot.objects.values_list("pk", flat=True))
    participation_rollup(term=dataset.term, now=dataset.now)
    assert set(HandbookSnapshot.objects.values_list("pk", flat=True)) == ids


def test_a_list_counts_only_once_published(dataset, handbook):
    # given the alliance's list back in draft
    LearningFamilyList.objects.filter(pk=handbook.published.pk).update(status="draft")

    # when
    participation_rollup(term=dataset.term, now=dataset.now)

    # then
    figures = stored(dataset.term)
    assert figures[dataset.u1.pk]["learning_families"] == 0
    assert figures[dataset.u2.pk]["learning_families"] == 0


def test_changed_claims_mark_their_unit_and_a_pass_rerolls_only_the_handbook(dataset, handbook):
    # given a rolled-up term
    d = dataset
    participation_rollup(term=d.term, now=d.now)
    participation_stamps = set(ParticipationSnapshot.objects.values_list("computed_at", flat=True))

    # when a claim is made in u3, another in u2 is approved, and one of u1 removed
    new = claim(d, d.f2, handbook.read, d.u3)
    decided = claim(d, d.f2, handbook.sport, d.u2)
    decided.status, decided.points = APPROVED, handbook.sport.points
    decided.save()
    Claim.objects.filter(unit=d.u1, status=MORE).get().delete()

    # then each change marked its term × unit as a handbook key, and nothing changed yet
    marks = set(SnapshotMark.objects.values_list("term_id", "unit_id", "period", "figures"))
    assert marks == {(d.term.pk, u.pk, TERM_PERIOD, "handbook") for u in (d.u1, d.u2, d.u3)}
    assert stored(d.term) == {d.u1.pk: U1, d.u2.pk: U2}

    # when a pass runs
    assert snapshot_marks_rollup(now=d.now) == 3

    # then the rows are what a full computation gives, the marks are gone and the
    # participation snapshot was left alone
    want = {
        f["unit_id"]: {m: f[m] for m in HANDBOOK_METRICS} for f in handbook_figures(term=d.term)
    }
    assert stored(d.term) == want
    assert want[d.u3.pk]["claims"] == 1
    assert want[d.u2.pk]["claims_approved"] == 2 and want[d.u2.pk]["points_home"] == 3
    assert want[d.u1.pk]["claims"] == 5 and want[d.u1.pk]["claims_open"] == 1
    assert not SnapshotMark.objects.exists()
    assert (
        set(ParticipationSnapshot.objects.values_list("computed_at", flat=True))
        == participation_stamps
    )

    # when u3's only claim goes, the pass removes its row
    new.delete()
    snapshot_marks_rollup(now=d.now)
    assert d.u3.pk not in stored(d.term)


def test_claims_written_in_bulk_mark_their_keys(dataset, handbook):
    # given a rolled-up term and no marks
    d = dataset
    participation_rollup(term=d.term, now=d.now)
    SnapshotMark.objects.all().delete()

    # when the handbook reports claims it bulk-inserted (proposals from attendance:
    # no post_save) for two units
    claims_changed.send(sender=Claim, keys=[(d.term.pk, d.u1.pk), (d.term.pk, d.u3.pk)])

    # then both keys are marked for the handbook's figures, nothing else
    marks = set(SnapshotMark.objects.values_list("term_id", "unit_id", "period", "figures"))
    assert marks == {(d.term.pk, u.pk, TERM_PERIOD, "handbook") for u in (d.u1, d.u3)}


def test_publishing_a_list_marks_its_units(dataset, handbook):
    # given a rolled-up term, the other alliance's list still a draft
    d = dataset
    participation_rollup(term=d.term, now=d.now)
    assert d.u3.pk not in stored(d.term)

    # when it is published
    handbook.draft.status = LearningFamilyList.Status.PUBLISHED
    handbook.draft.save()

    # then its entries' unit is marked, and the pass counts its learning family
    assert set(SnapshotMark.objects.values_list("unit_id", "figures")) == {(d.u3.pk, "handbook")}
    snapshot_marks_rollup(now=d.now)
    assert stored(d.term)[d.u3.pk]["learning_families"] == 1


def test_participation_marks_still_go_to_the_participation_rows(dataset, handbook):
    # a booking's mark is a participation key: the pass leaves the handbook rows alone
    d = dataset
    participation_rollup(term=d.term, now=d.now)
    stamps = set(HandbookSnapshot.objects.values_list("computed_at", flat=True))
    from reports.services import snapshot_marks_write

    snapshot_marks_write(offering_ids=[d.a1.offering_id])
    assert set(SnapshotMark.objects.values_list("figures", flat=True)) == {"participation"}
    snapshot_marks_rollup(now=d.now)
    assert set(HandbookSnapshot.objects.values_list("computed_at", flat=True)) == stamps


# --- the dashboards -----------------------------------------------------------------------


def shown(response) -> dict[str, int]:
    return {f["key"]: f["value"] for f in response.context["handbook_figures"]}


@pytest.fixture
def rolled(dataset, handbook, people):
    participation_rollup(term=dataset.term, now=dataset.now)
    return dataset


def test_dashboards_show_the_handbook_figures_scoped_like_the_rest(client, rolled, people):
    d = rolled
    both = {k: U1[k] + U2[k] for k in U1}

    # the alliance's coordinator sees u1 + u2 (u3's draft list counts nowhere)
    client.force_login(people.alliance)
    response = client.get(reverse("reports:overview"))
    assert shown(response) == both
    page = response.content.decode()
    assert 'data-handbook-figure="claims_approved"' in page and "各单位成长手册情况" in page
    assert [row.unit_id for row in response.context["handbook_units"]] == [d.u1.pk, d.u2.pk]

    # u1's coordinator sees u1 only, on the overview and on u1's page
    client.force_login(people.u1)
    assert shown(client.get(reverse("reports:overview"))) == U1
    assert shown(client.get(reverse("reports:unit", args=[d.u1.pk]))) == U1
    assert client.get(reverse("reports:unit", args=[d.u2.pk])).status_code == 404

    # u3's coordinator sees none of them
    client.force_login(people.u3)
    assert shown(client.get(reverse("reports:overview"))) == dict.fromkeys(U1, 0)

    # the district admin sees every unit; the unit page shows its unit's figures
    client.force_login(people.admin)
    assert shown(client.get(reverse("reports:overview"))) == both
    assert shown(client.get(reverse("reports:unit", args=[d.u2.pk]))) == U2


def test_handbook_figures_cost_the_same_queries_for_many_units(client, rolled, people):
    d = rolled
    client.force_login(people.alliance)

    def count(name, args=()):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse(name, args=args))
        assert response.status_code == 200
        return len(ctx.captured_queries), response

    small = count("reports:overview")[0]
    small_unit = count("reports:unit", [d.u1.pk])[0]
    # 12 more units of the alliance with claims, and more claims in u1
    for i in range(12):
        unit = MemberUnitFactory(name=f"手册单位{i}")
        MembershipFactory(alliance=d.alliance, unit=unit)
        claim(d, FamilyFactory(), HandbookItemFactory(points=1), unit, APPROVED)
        claim(d, FamilyFactory(), HandbookItemFactory(points=1), d.u1, PENDING)
    participation_rollup(term=d.term, now=d.now)
    large, response = count("reports:overview")
    assert len(response.context["handbook_units"]) == 14
    assert shown(response)["claims_approved"] == U1["claims_approved"] + U2["claims_approved"] + 12
    assert large == small
    assert count("reports:unit", [d.u1.pk])[0] == small_unit


def test_the_workbook_has_the_handbook_sheet_of_the_coordinators_units(
    client, rolled, people, tmp_path
):
    d = rolled
    client.force_login(people.alliance)
    response = client.post(reverse("reports:export"), {"term": d.term.code, "format": "xlsx"})
    path = tmp_path / "report.xlsx"
    path.write_bytes(response.content)
    sheet = table(load_workbook(path)["成长手册"])
    assert sheet.header == [
        "单位",
        "手册申报",
        "通过的申报",
        "待审核的申报",
        "在家陪伴积分",
        "在校陪伴积分",
        "陪伴好行为积分",
        "参与手册的家庭",
        "学习型家庭",
    ]
    by_unit = {row[0]: row[1:] for row in sheet.rows}
    # u2's formula-like name is escaped; u3 (outside the alliance) is not there
    assert by_unit == {
        '\'=HYPERLINK("x")社区': tuple(U2.values()),
        "第一小学": tuple(U1.values()),
    }
    assert sheet.totals[0][1:] == tuple(U1[k] + U2[k] for k in U1)
