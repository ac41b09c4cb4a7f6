"""A claim's photo file never outlives the claim: deleting the account (and with
it the family and its claims) removes the files after the commit, and a photo
replaced in an answer to an ask-for-more is removed too."""

from __future__ import annotations

import pytest
from django.db import transaction

from handbook import services
from handbook.models import Claim, HandbookItem
from handbook.tests.conftest import jpeg_upload
from handbook.tests.factories import HandbookItemFactory
from members.services import account_delete

pytestmark = pytest.mark.django_db


def _photo_claim(world, color=(200, 80, 40)):
    item = HandbookItemFactory(
        alliance=world.alliance, evidence=HandbookItem.Evidence.PHOTO, limit_per_day=None
    )
    return services.claim_submit(
        user=world.parent,
        item_id=item.pk,
        occurred_on=world.today,
        photo=jpeg_upload(color=color),
    )


def test_deleting_the_account_deletes_the_claims_photos(world, django_capture_on_commit_callbacks):
    claims = [_photo_claim(world), _photo_claim(world, color=(10, 20, 30))]
    storage = Claim._meta.get_field("photo").storage
    names = [claim.photo.name for claim in claims]
    assert all(storage.exists(name) for name in names)

    # when: the only guardian deletes the account (the family and its claims go)
    with django_capture_on_commit_callbacks(execute=True):
        summary = account_delete(user=world.parent)

    # then: the rows and their files are gone
    assert summary["family_deleted"]
    assert not Claim.objects.filter(pk__in=[c.pk for c in claims]).exists()
    assert not any(storage.exists(name) for name in names)


def test_a_rolled_back_deletion_keeps_the_photo(world, django_capture_on_commit_callbacks):
    claim = _photo_claim(world)
    storage = Claim._meta.get_field("photo").storage

    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                Claim.objects.filter(pk=claim.pk).delete()
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    assert Claim.objects.filter(pk=claim.pk).exists()
    assert storage.exists(claim.photo.name)


def test_a_photo_replaced_in_an_answer_is_deleted(world, django_capture_on_commit_callbacks):
    claim = _photo_claim(world)
    storage = Claim._meta.get_field("photo").storage
    old = claim.photo.name
    services.claim_decide(
        user=world.teacher, claim_id=claim.pk, decision="more", reason="照片看不清"
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.claim_respond(
            user=world.parent, claim_id=claim.pk, photo=jpeg_upload(color=(5, 6, 7))
        )

    claim.refresh_from_db()
    assert claim.photo.name != old and storage.exists(claim.photo.name)
    assert not storage.exists(old)
