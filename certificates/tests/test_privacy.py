"""What a certificate never shows: no phone number (the guardian's or anyone's),
and no child beyond the nickname a guardian opted in to, and that only on her own
PDF for a rule about a child. The public credential (which anyone may hold) and
the messages written for the holders show neither."""

from __future__ import annotations

import io
import json
import re

import pytest
from pypdf import PdfReader

from certificates import services
from certificates.models import Certificate, CertificateBatch
from certificates.tests.factories import CertificatePreferenceFactory
from events.models import Delivery, Notice
from notifications.models import Notification

from .issuing_world import build_issuing_world, finish_course

pytestmark = pytest.mark.django_db

# A mainland mobile number anywhere in a text, with or without separators.
MOBILE = re.compile(r"(?<!\d)1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)")


def _pdf_text(certificate) -> str:
    certificate = services.certificate_pdf_ensure(certificate)
    with certificate.pdf.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return "".join(page.extract_text() or "" for page in reader.pages)


def _no_phone(text: str, phones: list[str], where: str) -> None:
    assert not MOBILE.search(text), f"{where}: a phone number"
    for phone in phones:
        assert phone not in text and phone[-4:] + phone[:3] not in text, where


def _issued(django_capture_on_commit_callbacks):
    """Both families finished the course; 张晓华 opted in to her child's nickname;
    the rule may name a child; the coordinator's batch ran."""
    w = build_issuing_world()
    CertificatePreferenceFactory(family=w.mum.family, child_nickname_shown=True)
    finish_course(w, w.mum)
    finish_course(w, w.dad)
    services.rule_update(
        user=w.coordinator, alliance=w.alliance, kind="course", mentions_child=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.batch_start(
            alliance=w.alliance,
            term=w.term,
            trigger=CertificateBatch.Trigger.MANUAL,
            user=w.coordinator,
        )
        while services.batch_run_chunk(batch_id=batch.pk):
            pass
    mum = Certificate.objects.get(family=w.mum.family, kind="course")
    dad = Certificate.objects.get(family=w.dad.family, kind="course")
    return w, mum, dad


def test_the_pdf_names_the_holder_and_only_an_opted_in_nickname(
    django_capture_on_commit_callbacks,
):
    # given
    w, mum, dad = _issued(django_capture_on_commit_callbacks)

    # when the holders' PDFs are read
    mum_text, dad_text = _pdf_text(mum), _pdf_text(dad)

    # then each names its holder in full, with no phone anywhere
    assert "张晓华" in mum_text and "李建国" in dad_text
    _no_phone(mum_text, w.phones(), "张晓华's PDF")
    _no_phone(dad_text, w.phones(), "李建国's PDF")
    # and a child only where the guardian opted in: her nickname, on her own PDF
    assert mum.child_nickname == w.mum_child.nickname
    assert w.mum_child.nickname in mum_text
    assert dad.child_nickname == ""
    assert w.dad_child.nickname not in dad_text and w.mum_child.nickname not in dad_text


def test_the_public_credential_shows_a_masked_name_and_no_child_or_phone(
    django_capture_on_commit_callbacks,
):
    # given
    w, mum, dad = _issued(django_capture_on_commit_callbacks)

    for certificate, full_name, masked in ((mum, "张晓华", "张*华"), (dad, "李建国", "李*国")):
        # when the signed credential (public: anyone may be handed it) is read
        text = json.dumps(certificate.credential, ensure_ascii=False)

        # then it has the masked name only, no child and no phone
        assert masked in text and full_name not in text
        for child in (w.mum_child, w.dad_child):
            assert child.nickname not in text
        _no_phone(text, w.phones(), f"{masked}'s credential")
        assert "phone" not in text.lower()


def test_the_messages_to_the_holders_show_no_phone_and_no_child(
    django_capture_on_commit_callbacks,
):
    # given
    w, mum, dad = _issued(django_capture_on_commit_callbacks)

    # when the notices, their deliveries and the in-site messages written are read
    notices = Notice.objects.filter(key__in=[f"certificates.issued:{c.pk}" for c in (mum, dad)])
    assert notices.count() == 2
    texts = [" ".join([n.subject, n.lead, n.sms, n.path, n.wechat_status]) for n in notices]
    deliveries = Delivery.objects.filter(notice__in=notices)
    assert deliveries.exists()
    # (an SMS row's address is where it is sent, not what it says)
    texts += [" ".join([d.message_key or "", d.base_url or ""]) for d in deliveries]
    users = [w.mum.user, w.dad.user]
    texts += [
        " ".join([n.title, n.body, n.url]) for n in Notification.objects.filter(user__in=users)
    ]

    # then none of them has a phone number or a child's nickname
    for text in texts:
        _no_phone(text, w.phones(), "a certificate message")
        for child in (w.mum_child, w.dad_child):
            assert child.nickname not in text, text
