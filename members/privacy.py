"""How personal contact data is shown outside its owner's own pages."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """'13812341234' → '138****1234'. Rosters, exports, logs and SMS logs use this.

    Anything too short to keep a prefix and suffix is masked entirely, so a
    malformed number never leaks whole.
    """
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"
