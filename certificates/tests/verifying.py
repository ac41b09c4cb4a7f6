"""What a verifier does with a downloaded certificate, for the Done-when tests:
run ``certificate_verify`` and fetch the status list anew from the server."""

from __future__ import annotations

import io

import requests
from django.core.management import CommandError, call_command


def verify_exit(*args) -> int:
    """``certificate_verify``'s exit status (0 valid, 1 signature, 2 revoked, 3 unchecked)."""
    try:
        call_command("certificate_verify", *map(str, args), stdout=io.StringIO())
    except CommandError as failed:  # the command's failures carry their exit status
        return failed.returncode
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def fresh_status_list(credential: dict, path):
    """The status list the credential points to, fetched now and saved at ``path``."""
    answer = requests.get(credential["credentialStatus"]["statusListCredential"], timeout=10)
    assert answer.status_code == 200
    path.write_bytes(answer.content)
    return path
