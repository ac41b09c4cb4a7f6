"""The station's models and access rules as the lead laid them down."""

import pytest
from django.db import IntegrityError, transaction

from guidance import selectors
from guidance.models import GuidanceQuota, Note

from .factories import ConsultationFactory, GuidanceQuotaFactory, MentorFactory, NoteFactory


def test_one_chief_per_station_and_quota_never_above_its_limit(station_world):
    w = station_world
    with pytest.raises(IntegrityError), transaction.atomic():
        MentorFactory(station=w.station, is_chief=True)
    quota = GuidanceQuotaFactory(station=w.station, family=w.mum.family, used=2, max_used=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        GuidanceQuota.objects.filter(pk=quota.pk).update(used=3)


def test_a_sealed_level_keeps_nothing_in_clear(station_world):
    w = station_world
    consultation = ConsultationFactory(slot__mentor=w.psych, family=w.mum.family)
    with pytest.raises(IntegrityError), transaction.atomic():
        Note.objects.create(consultation=consultation, level="private", body="不应明文")


def test_who_reads_which_note(station_world):
    w = station_world
    consultation = ConsultationFactory(slot__mentor=w.psych, family=w.mum.family)
    summary = NoteFactory(consultation=consultation, author=w.psych.user)
    private = Note.objects.create(
        consultation=consultation, level="private", author=w.psych.user, body_sealed="x"
    )
    restricted = Note.objects.create(
        consultation=consultation, level="restricted", author=w.psych.user, body_sealed="x"
    )
    readers = {
        "mum": w.mum.user,
        "dad": w.dad.user,
        "psych": w.psych.user,
        "chief": w.chief.user,
        "other_mentor": w.family_mentor.user,
        "coordinator": w.coordinator,
    }
    seen = {
        name: [n.level for n in (summary, private, restricted) if selectors.note_readable(u, n)]
        for name, u in readers.items()
    }
    assert seen == {
        "mum": ["summary"],
        "dad": [],
        "psych": ["summary", "private", "restricted"],
        "chief": ["summary", "private", "restricted"],
        "other_mentor": [],
        "coordinator": [],
    }
    assert set(selectors.consultations_visible_to(w.mum.user)) == {consultation}
    assert set(selectors.consultations_visible_to(w.chief.user)) == {consultation}
    assert not selectors.consultations_visible_to(w.coordinator).exists()
    assert not selectors.consultations_visible_to(w.family_mentor.user).exists()
    assert set(selectors.stations_managed_by(w.coordinator)) == {w.station}
    assert set(selectors.stations_managed_by(w.chief.user)) == {w.station}
    assert not selectors.stations_managed_by(w.psych.user).exists()
