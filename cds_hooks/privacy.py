"""Pseudonymous identifiers for logs, audit and metrics: patient ids are never written raw."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["hash_patient_id"]


def hash_patient_id(patient_id: str, key: str) -> str:
    """Return a stable keyed hash (HMAC-SHA256, 16 hex chars) of ``patient_id`` for logs and audit."""
    digest = hmac.new(key.encode("utf-8"), patient_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"pt_{digest[:16]}"
