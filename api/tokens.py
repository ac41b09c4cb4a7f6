"""API: the caller's own API tokens (docs/API.md).

Listing and revoking work with a token too (a client may sign itself out);
making a token needs the signed-in site session: a token cannot mint tokens,
so a leaked token cannot make itself a successor that outlives its revocation.
Everything goes through ``members.services.api_token_create`` /
``api_token_revoke``; the stored hash is never shown, and the token itself is
answered once, when it is made.
"""

import datetime

from django.http import Http404
from ninja import Router, Schema

from members import access
from members.errors import MembersError
from members.models import ApiToken
from members.selectors import api_tokens_of
from members.services import api_token_create, api_token_revoke

from .auth import require_scope, signed_in
from .errors import ApiError
from .ratelimit import client_ip
from .schemas import ErrorOut

router = Router(tags=["tokens"], auth=signed_in)

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
# Which request field each refusal of api_token_create is about.
ERROR_FIELDS = {
    "token_name_required": "name",
    "token_bad_scopes": "scopes",
    "token_device_scopes": "scopes",
    "token_device_unit": "unit_id",
    "token_too_many": "body",
}


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    kind: str
    unit_id: int | None
    unit_name: str | None
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    is_live: bool
    is_this_token: bool


class TokenCreatedOut(TokenOut):
    token: str  # shown this once; only its hash is kept


class TokenIn(Schema):
    name: str
    scopes: list[str] = []
    unit_id: int | None = None


class RevokedOut(Schema):
    revoked: bool


def token_out(request, row: ApiToken, schema=TokenOut, **extra):
    calling = getattr(request, "api_token", None)
    return schema(
        id=row.pk,
        name=row.name,
        prefix=row.prefix,
        scopes=row.scope_list,
        kind=row.kind,
        unit_id=row.unit_id,
        unit_name=row.unit.name if row.unit_id else None,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        is_live=row.is_live,
        is_this_token=calling is not None and calling.pk == row.pk,
        **extra,
    )


def _with_field(error: MembersError) -> MembersError:
    error.fields = {ERROR_FIELDS.get(error.code, "body"): str(error.message)}
    return error


@router.get("/", response={200: list[TokenOut], **ERRORS}, summary="我的令牌")
def token_list(request):
    require_scope(request, "read")
    return [token_out(request, t) for t in api_tokens_of(user=request.user)]


@router.post("/", response={201: TokenCreatedOut, **ERRORS}, summary="创建令牌（仅限网站登录）")
def token_create(request, payload: TokenIn):
    if getattr(request, "api_token", None) is not None:
        raise ApiError("token_cannot_mint", status=403)
    unit = None
    if payload.unit_id is not None:
        # Only a unit the caller may change; any other id is refused the same way.
        unit = access.units_changeable_by(request.user).filter(pk=payload.unit_id).first()
        if unit is None:
            raise _with_field(MembersError("token_device_unit"))
    try:
        token, raw = api_token_create(
            user=request.user,
            name=payload.name,
            scopes=payload.scopes,
            unit=unit,
            ip_address=client_ip(request),
        )
    except MembersError as error:
        raise _with_field(error) from None
    return 201, token_out(request, token, schema=TokenCreatedOut, token=raw)


@router.post("/{token_id}/revoke", response={200: RevokedOut, **ERRORS}, summary="撤销令牌")
def token_revoke(request, token_id: int):
    calling = getattr(request, "api_token", None)
    # Any token may revoke itself (signing a client out); others need "write".
    if calling is None or calling.pk != token_id:
        require_scope(request, "write")
    token = api_tokens_of(user=request.user).filter(pk=token_id).first()
    if token is None:
        raise Http404  # not the caller's token
    revoked = api_token_revoke(token=token, actor=request.user, ip_address=client_ip(request))
    return RevokedOut(revoked=revoked)
