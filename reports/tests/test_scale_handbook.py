"""generate_scale_data's growth handbook: claims by hand and from attendance in
the current term, their tallies, the alliances' learning-family rules, and the
roll-up's handbook figures over them."""

from django.core.management import call_command
from django.db.models import Count, F, Sum

from handbook.models import Claim, ClaimTally
from members.models import Alliance
from parent_school.models import Term
from recognition.models import LearningFamilyRule
from reports import scale
from reports.models import HandbookSnapshot
from reports.services import participation_rollup


def test_small_preset_has_handbook_claims_tallies_and_rules(db):
    # when
    call_command("generate_scale_data", "--preset", "small", "--seed", "4")

    # then: ~10 claims by hand for each of 75 % of the families, in the current term
    p = scale.PRESETS["small"]
    term = Term.objects.get(is_current=True)
    by_hand = Claim.objects.filter(source="parent")
    assert by_hand.count() == p.parents * p.handbook_active_percent // 100 * 10
    assert by_hand.values("family").distinct().count() == p.parents * 3 // 4
    assert not Claim.objects.exclude(term=term).exists()
    # statuses mixed, points only on approved claims, dates inside the term up to "today"
    statuses = dict(by_hand.values_list("status").annotate(n=Count("pk")))
    assert set(statuses) == {"approved", "pending", "more_info", "rejected", "withdrawn"}
    assert 0.45 < statuses["approved"] / by_hand.count() < 0.65
    assert not Claim.objects.exclude(status="approved").exclude(points=0).exists()
    assert not Claim.objects.filter(status="approved", points=0).exists()
    assert not Claim.objects.filter(occurred_on__lt=term.starts_on).exists()
    assert not Claim.objects.filter(occurred_on__gt=scale.REFERENCE.date()).exists()
    # the verifier is the child's school; the child is the family's
    assert not by_hand.exclude(unit=F("child__school")).exists()
    assert not by_hand.exclude(child__family=F("family")).exists()
    # attendance-backed claims: one per present booking, the offering's unit
    attended = Claim.objects.filter(source="attendance")
    assert attended.exists()
    assert not attended.exclude(booking__attendance="present").exists()
    assert not attended.exclude(unit=F("booking__offering__unit")).exists()
    assert not attended.exclude(family=F("booking__family")).exists()
    # the term tallies hold every claim that keeps a place under the limits
    counted = Claim.objects.filter(status__in=Claim.COUNTED_STATUSES).count()
    for period in ("day", "week", "term"):
        used = ClaimTally.objects.filter(period=period).aggregate(n=Sum("used"))["n"]
        assert used == counted
    assert not ClaimTally.objects.filter(
        period="week", starts_on__week_day__in=[1, 3, 4, 5, 6, 7]
    ).exists()
    # a rule per alliance for the term
    assert LearningFamilyRule.objects.filter(term=term).count() == Alliance.objects.count()

    # and the roll-up's handbook figures add up to the claims
    participation_rollup(term=term)
    totals = HandbookSnapshot.objects.filter(term=term).aggregate(
        claims=Sum("claims"), approved=Sum("claims_approved")
    )
    assert totals["claims"] == Claim.objects.exclude(status="withdrawn").count()
    assert totals["approved"] == Claim.objects.filter(status="approved").count()
