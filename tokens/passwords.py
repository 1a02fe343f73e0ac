"""Password hashing with scrypt (a memory-hard KDF from the standard library).

Used for the passwords IdPs send with users (RFC 7643 §4.1.1: ``password`` is writeOnly and
never returned) and for console admins. The stored form is self-describing so that parameters
can be raised later: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of ``password``."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=N, r=R, p=P)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(key)}"


def check_password(stored: str, password: str) -> bool:
    """Return whether ``password`` matches ``stored``, comparing in constant time."""
    try:
        _, n, r, p, salt, key = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, base64.b64decode(key))
