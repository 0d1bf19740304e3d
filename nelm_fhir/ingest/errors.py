"""Exceptions of the ingest: the only two ways ``ingest`` refuses a whole record.

::

    ValueError
    ├── NotABundleError       the top level is not a FHIR R4 Bundle, CDS Hooks prefetch or resource list
    └── PatientMismatchError  the data hold resources of another patient (never mix patients)

Everything else (a relevant resource that cannot be used) becomes an ``IngestProblem``.
"""

from __future__ import annotations

__all__ = ["NotABundleError", "PatientMismatchError"]


class NotABundleError(ValueError):
    """The data are not a FHIR R4 Bundle, a CDS Hooks prefetch object or a list of resources."""


class PatientMismatchError(ValueError):
    """A resource belongs to another patient than the one being evaluated."""
