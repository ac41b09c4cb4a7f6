"""Public documents a verifier fetches: the issuer's DID document (its public key)
and the revocation status lists. No sign-in, plain JSON, readable from any origin
(a verifier's web page may fetch them)."""

from django.http import Http404, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from certificates import credentials

#: Status lists are large; an id's list exists only once certificates reach it.
STATUS_LIST_MAX = 1024


def _public_json(document: dict, *, max_age: int) -> JsonResponse:
    response = JsonResponse(document, json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    patch_cache_control(response, public=True, max_age=max_age)
    return response


@require_safe
def did_json(request):
    response = _public_json(credentials.did_document(), max_age=3600)
    response["Content-Type"] = "application/did+json"
    return response


@require_safe
def status_list(request, list_number: int):
    if list_number >= STATUS_LIST_MAX:
        raise Http404
    # Short cache: a revocation must reach verifiers within minutes.
    return _public_json(
        credentials.status_list_credential(list_number),
        max_age=credentials.STATUS_LIST_CACHE_SECONDS,
    )
