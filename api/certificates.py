"""API: 我的证书 and the credit-bank transcript (docs/API.md, docs/CERTIFICATES.md).

The same reads and the same one write path as the holder's pages
(``certificates/views.py``):

- the list is ``certificates.selectors.my_certificates`` (the holder's current
  certificates, valid and revoked, newest first), keyset-paged; one certificate
  is ``certificate_for_holder`` (a replaced one too, with the code of the one in
  force now). A certificate that is not the caller's (another family's) is 404
  ``certificate_missing``, the same body as a missing id;
- the PDF is ``services.certificate_pdf_ensure`` (rendered now if the worker has
  not yet) streamed by ``courses.streaming.file_response``; the credential is the
  signed Open Badges 3.0 JSON stored at issue, byte for byte;
- the transcript is ``services.transcript_issue``, the button's function: asking
  again with no new credits gives the same transcript (200), new credits a new
  one (201) that replaces the previous. It takes an ``Idempotency-Key``. Its JSON
  export (``transcripts.transcript_document``, the document of
  docs/schemas/credit-transcript.schema.json) is audit-logged like the page's.

What no answer holds: a phone number, a child's nickname, the holder's full name
(``holder_masked`` is the name as the public verification page shows it, 张*华;
the printed name is on the PDF and in the transcript export, the holder's own
files), or why a certificate was revoked (only the date).
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header
from ninja import Path, Query, Router, Schema
from pydantic import Field

from certificates import selectors, services
from certificates.credentials import public_name, verification_url
from certificates.errors import CertificateError
from certificates.models import Certificate, Kind
from certificates.transcripts import SCHEMA_ID, transcript_document
from courses.services import family_of
from courses.streaming import file_response

from .auth import require_scope, signed_in
from .catalogue import MAX_ID
from .core import register_rule_errors
from .errors import ApiError
from .idempotency import idempotent
from .pagination import keyset_page
from .schemas import ErrorOut

register_rule_errors(CertificateError)

router = Router(tags=["certificates"])

CERTIFICATE_LIMIT = 20
MAX_LIMIT = 50

READ_ANSWERS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ANSWERS = {**READ_ANSWERS, 503: ErrorOut}

CertificateId = Path(..., ge=1, le=MAX_ID, description="证书的 id（见“我的证书”）")

KIND_LABELS = dict(Kind.choices)
STATUS_LABELS = dict(Certificate.Status.choices)


class CertificateOut(Schema):
    """One of the holder's certificates, as the card on 我的证书 shows it."""

    id: int
    code: str = Field(description="验证码（证书上二维码下方的短码）")
    code_display: str = Field(description="分两组书写的验证码，如 K7Q2M-9XD4P")
    kind: str = Field(
        description="course 完成课程 · credits 学期学分达标 · learning_family 学习型家庭 · "
        "volunteer 志愿服务 · transcript 学分银行成绩单"
    )
    kind_label: str
    title: str = Field(description="证书内容，如课程名称")
    holder_masked: str = Field(description="持证人，与公开验证页相同的遮挡写法（张*华）")
    term: str | None = Field(None, description="学期（成绩单没有学期）")
    unit: str = Field(description="发证单位")
    alliance: str = Field(description="联盟")
    issued_on: datetime.date
    credits: Decimal | None = None
    hours: Decimal | None = Field(None, description="志愿服务时长（小时）")
    status: str = Field(description="valid 有效 · revoked 已撤销 · superseded 已被新证书替换")
    status_label: str
    revoked_on: datetime.date | None = Field(None, description="撤销日期（撤销原因不公开）")
    verification_url: str = Field(description="公开验证页（证书二维码的地址，永不改变）")
    pdf_url: str
    credential_url: str = Field(description="签名的可验证凭证 JSON（离线验证用）")
    transcript_url: str | None = Field(None, description="成绩单的 JSON 导出（只有成绩单有）")


class CertificateDetailOut(CertificateOut):
    current_code: str | None = Field(
        None, description="已被替换时：现行证书的验证码（沿重新发放的链找到的最后一份）"
    )


class CertificateListOut(Schema):
    items: list[CertificateOut]
    next_cursor: str | None = None
    limit: int


def _api_url(request, name: str, certificate: Certificate) -> str:
    return request.build_absolute_uri(
        reverse(f"api-v1:{name}", kwargs={"certificate_id": certificate.pk})
    )


def _fields(request, certificate: Certificate) -> dict:
    # The certificate's alliance, unit and term come with it (the selectors' join).
    revoked_at = certificate.revoked_at
    return {
        "id": certificate.pk,
        "code": certificate.code,
        "code_display": certificate.code_display,
        "kind": certificate.kind,
        "kind_label": str(KIND_LABELS.get(certificate.kind, certificate.kind)),
        "title": certificate.subject_title,
        "holder_masked": public_name(certificate),
        "term": str(certificate.term) if certificate.term_id else None,
        "unit": certificate.unit.name,
        "alliance": certificate.alliance.name,
        "issued_on": certificate.issued_on,
        "credits": certificate.credits,
        "hours": certificate.hours,
        "status": certificate.status,
        "status_label": str(STATUS_LABELS.get(certificate.status, certificate.status)),
        "revoked_on": timezone.localdate(revoked_at) if revoked_at else None,
        "verification_url": verification_url(certificate),
        "pdf_url": _api_url(request, "certificate_pdf", certificate),
        "credential_url": _api_url(request, "certificate_credential", certificate),
        "transcript_url": (
            _api_url(request, "certificate_transcript_json", certificate)
            if certificate.kind == Kind.TRANSCRIPT
            else None
        ),
    }


def _detail_out(request, certificate: Certificate) -> CertificateDetailOut:
    current = selectors.current_of(certificate) if certificate.superseded_by_id else None
    return CertificateDetailOut(
        **_fields(request, certificate), current_code=current.code if current else None
    )


def _held(request, certificate_id: int) -> Certificate:
    certificate = selectors.certificate_for_holder(request.user, certificate_id)
    if certificate is None:
        raise CertificateError("certificate_missing")
    return certificate


def _disposition(certificate: Certificate, extension: str) -> str:
    name = f"{certificate.get_kind_display()}-{certificate.code}.{extension}"
    return content_disposition_header(True, name)


def _attachment(response, certificate: Certificate, extension: str):
    response["Content-Disposition"] = _disposition(certificate, extension)
    add_never_cache_headers(response)
    return response


class CertificateListQuery(Schema):
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(CERTIFICATE_LIMIT, ge=1, le=MAX_LIMIT)


@router.get(
    "",
    auth=signed_in,
    response={200: CertificateListOut, **READ_ANSWERS},
    summary="我的证书：有效的和已撤销的（被替换的旧证书不在列表里），最新的在前",
)
def certificate_list(request, query: Query[CertificateListQuery]):
    require_scope(request, "read")
    user = request.user
    rows, next_cursor = keyset_page(
        selectors.my_certificates(user),
        order=("-issued_on", "-pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=f"certificates.mine:{user.pk}",
    )
    return CertificateListOut(
        items=[CertificateOut(**_fields(request, c)) for c in rows],
        next_cursor=next_cursor,
        limit=query.limit,
    )


# Before "/{certificate_id}": the paths are matched in order.
@router.post(
    "/transcript",
    auth=signed_in,
    response={200: CertificateDetailOut, 201: CertificateDetailOut, **WRITE_ANSWERS},
    summary="生成学分银行成绩单（学分没有变化时答复现有的一份，200；有新学分时生成新的，201）",
)
@idempotent
def transcript_issue(request):
    require_scope(request, "write")
    if family_of(request.user) is None:
        # 400 like booking's (the service's ``family_missing`` would read as a 404)
        raise ApiError("no_family", status=400)
    certificate, created = services.transcript_issue(user=request.user)
    return (201 if created else 200), _detail_out(request, certificate)


@router.get(
    "/{certificate_id}",
    auth=signed_in,
    response={200: CertificateDetailOut, **READ_ANSWERS},
    summary="我的一份证书（已被替换的也可查看，附现行证书的验证码）",
)
def certificate_detail(request, certificate_id: int = CertificateId):
    require_scope(request, "read")
    return _detail_out(request, _held(request, certificate_id))


PDF_ANSWER = {
    "responses": {
        200: {
            "description": "证书 PDF（附件下载）",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get(
    "/{certificate_id}/pdf",
    auth=signed_in,
    response={200: None, **READ_ANSWERS},
    openapi_extra=PDF_ANSWER,
    url_name="certificate_pdf",
    summary="下载证书 PDF（带二维码和验证码，内嵌签名凭证）",
)
def certificate_pdf(request, certificate_id: int = CertificateId):
    require_scope(request, "read")
    certificate = services.certificate_pdf_ensure(_held(request, certificate_id))
    # The name goes in with the file: on S3 the answer is a redirect to the bucket.
    response = file_response(
        request,
        certificate.pdf,
        cache_control="private, no-store",
        disposition=_disposition(certificate, "pdf"),
    )
    if response.status_code in (200, 206):
        response["Content-Type"] = "application/pdf"
    add_never_cache_headers(response)
    return response


@router.get(
    "/{certificate_id}/credential",
    auth=signed_in,
    response={200: dict, **READ_ANSWERS},
    url_name="certificate_credential",
    summary="签名的可验证凭证（Open Badges 3.0，Ed25519），门户停用时也能离线验证",
)
def certificate_credential(request, certificate_id: int = CertificateId):
    require_scope(request, "read")
    certificate = _held(request, certificate_id)
    # The stored document as it was signed, not re-serialised through a model.
    response = JsonResponse(certificate.credential, json_dumps_params={"ensure_ascii": False})
    return _attachment(response, certificate, "json")


TRANSCRIPT_ANSWER = {
    "responses": {
        200: {
            "description": f"成绩单的 JSON 导出（JSON Schema：{SCHEMA_ID}，"
            "docs/schemas/credit-transcript.schema.json）",
        }
    }
}


@router.get(
    "/{certificate_id}/transcript.json",
    auth=signed_in,
    response={200: dict, **READ_ANSWERS},
    openapi_extra=TRANSCRIPT_ANSWER,
    url_name="certificate_transcript_json",
    summary="成绩单的机读导出（JSON，供学分银行导入；每次下载记入审计日志）",
)
def transcript_json(request, certificate_id: int = CertificateId):
    require_scope(request, "read")
    certificate = _held(request, certificate_id)
    if certificate.kind != Kind.TRANSCRIPT:
        raise CertificateError("certificate_missing")
    services.transcript_export_record(user=request.user, certificate=certificate, fmt="json")
    response = HttpResponse(
        json.dumps(transcript_document(certificate), ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    return _attachment(response, certificate, "json")
