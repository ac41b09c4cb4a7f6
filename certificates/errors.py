"""Errors that holders, coordinators and verifiers see about certificates, with
their messages in one place. ``CertificateError.field`` names the form field
(None: the whole form); codes ending ``_missing`` are a 404 on the pages."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "busy": _("现在操作的人较多，请稍后再试一次。"),
    "not_allowed": _("您没有权限进行这项操作。"),
    "certificate_missing": _("没有找到这份证书，或您没有查看权限。"),
    "batch_missing": _("没有找到这个发放批次，或您没有查看权限。"),
    # SECTION issuance (helper C)
    # END SECTION issuance
    # SECTION documents (helper B)
    # END SECTION documents
    # SECTION holder (helper D)
    # END SECTION holder
    # SECTION credentials (helper A)
    # END SECTION credentials
}


class CertificateError(Exception):
    """A certificate rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
