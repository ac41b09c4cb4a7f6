"""generate_scale_data's questionnaires: the district's term survey deployed to
every parent school, answered by 30% of the families, session surveys on some
sessions, anonymous answers released in batches; and the roll-up over them."""

from django.core.management import call_command
from django.db.models import Count, Exists, F, OuterRef, Q, Sum

from bookings.models import Booking
from parent_school.models import ParentSchool, Term
from reports import scale
from reports.models import SurveySnapshot
from reports.rollup import survey_figures
from reports.services import participation_rollup
from surveys.models import Answer, Invitation, Participation, Response, Survey


def test_small_preset_has_term_and_session_surveys_answered(db):
    # when
    call_command("generate_scale_data", "--preset", "small", "--seed", "5")

    # then one term survey per parent school, every fourth anonymous, of one template
    p = scale.PRESETS["small"]
    term = Term.objects.get(is_current=True)
    term_surveys = Survey.objects.filter(scope="parent_school_term", term=term)
    assert term_surveys.count() == ParentSchool.objects.count() == p.parent_schools
    assert term_surveys.values("template").distinct().count() == 1
    assert term_surveys.filter(is_anonymous=True).exists()
    assert not term_surveys.exclude(unit=F("parent_school__host_unit")).exists()
    # invitations: exactly the eligible families (a confirmed booking on a session of
    # a course of that parent school in the term)
    for survey in term_surveys.order_by("pk")[:5]:
        eligible = set(
            ParentSchool.objects.filter(pk=survey.parent_school_id)
            .filter(courses__term=term, courses__sessions__offering__bookings__status="confirmed")
            .values_list("courses__sessions__offering__bookings__family", flat=True)
        )
        invited = set(Invitation.objects.filter(survey=survey).values_list("family", flat=True))
        assert invited == eligible
    # 30 % of all families answered one term survey each, all of them invited
    answers = Participation.objects.filter(survey__in=term_surveys)
    assert answers.count() == p.parents * 30 // 100
    assert answers.values("family").distinct().count() == answers.count()
    invitation = Invitation.objects.filter(survey=OuterRef("survey"), family=OuterRef("family"))
    assert not answers.exclude(Exists(invitation)).exists()
    # named responses name their family; anonymous ones nobody, released in batches
    anonymous = Response.objects.filter(survey__is_anonymous=True)
    assert anonymous.exists()
    assert not anonymous.filter(
        Q(family__isnull=False) | Q(submitted_by__isnull=False) | Q(submitted_at__isnull=False)
    ).exists()
    assert not anonymous.filter(batch__isnull=True).exists()
    for survey in term_surveys.filter(is_anonymous=True, released_batches__gt=0)[:3]:
        assert survey.responses.aggregate(b=Count("batch", distinct=True))["b"] == (
            survey.released_batches
        )
    named = Response.objects.filter(survey__is_anonymous=False)
    assert not named.filter(family__isnull=True).exists()
    # every answer counted once: one response per participation
    assert Response.objects.count() == Participation.objects.count()
    # session surveys of held sessions, invited families were present
    sessions = Survey.objects.filter(scope="session")
    assert sessions.exists()
    assert (
        not Invitation.objects.filter(survey__in=sessions)
        .exclude(
            family__in=Booking.objects.filter(status="confirmed", attendance="present").values(
                "family"
            )
        )
        .exists()
    )
    assert Answer.objects.filter(question__measure="satisfaction").exists()

    # and the roll-up's survey figures add up to the rows
    participation_rollup(term=term)
    totals = SurveySnapshot.objects.filter(term=term).aggregate(
        answered=Sum("answered"), surveys=Sum("surveys")
    )
    assert totals["answered"] == Participation.objects.count()
    assert totals["surveys"] == Survey.objects.filter(term=term).count()
    assert sum(f["answered"] for f in survey_figures(term=term)) == totals["answered"]
