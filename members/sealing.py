"""Sealed values: text the application can read and a database reader cannot.

Used for what must not be readable straight from a table: an anonymous survey's
answers while they wait for their release batch, and answer drafts
(surveys/models.py). ``seal`` encrypts and authenticates (AES-256-GCM, a random
nonce per value) with a key derived from ``settings.SEALING_KEY`` (default: the
``SECRET_KEY``), so a dump of the database alone reveals nothing; ``unseal``
refuses anything altered or sealed under another key. Not Fernet: its tokens
carry their creation time in clear, and the time a pending anonymous answer was
written is exactly what must not be joined to who answered when.

Each ``purpose`` derives its own key, so a value sealed for one use cannot be
passed off as another's. The plain text is padded to a multiple of
``BUCKET_BYTES`` before it is sealed: the sealed text's length would otherwise be
the answers' length plus a constant, and a reader could match a sealed row to the
released answers of the same length.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SealError(ValueError):
    """A sealed value was altered, truncated or sealed under another key."""


NONCE_BYTES = 12
BUCKET_BYTES = 1024


def _cipher(purpose: str) -> AESGCM:
    secret = (getattr(settings, "SEALING_KEY", "") or settings.SECRET_KEY).encode()
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"alliance.sealing", info=purpose.encode()
    ).derive(secret)
    return AESGCM(key)


def seal(value: Any, *, purpose: str) -> str:
    """``value`` (anything JSON can hold) as sealed text."""
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    # Spaces after the JSON are ignored when it is read back.
    data += b" " * (-len(data) % BUCKET_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + _cipher(purpose).encrypt(nonce, data, purpose.encode())
    return base64.urlsafe_b64encode(sealed).decode()


def unseal(token: str, *, purpose: str) -> Any:
    """The value ``seal`` was given; ``SealError`` if the text is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        data = _cipher(purpose).decrypt(nonce, sealed, purpose.encode())
    except (InvalidTag, ValueError, TypeError) as error:
        raise SealError(purpose) from error
    return json.loads(data)
