"""The shared world is what its docstring says (other test modules rely on it)."""

from bookings.models import Booking
from surveys.tests.world import session_survey, term_survey


def test_the_world_has_an_ended_session_with_attending_and_absent_families(world):
    assert world.offering.ends_at < world.now
    present = set(
        Booking.objects.filter(offering=world.offering, attendance="present").values_list(
            "family_id", flat=True
        )
    )
    assert present == {world.attended.pk, world.attended2.pk}
    assert world.version.questions.count() == 6
    assert session_survey(world).offering == world.offering
    assert term_survey(world).parent_school == world.parent_school
