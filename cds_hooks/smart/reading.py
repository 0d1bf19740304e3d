"""``/smart/app/reading``: how the record was read (issue 11) — every resource, used or not, and why.

A page of its own next to the pathway page: the same session, the same record, the explanation of
``nelm_fhir.ingest.explain`` as a table. It writes nothing and shows nothing the pathway page does not
already hold (the resources are the patient's own record).
"""

from __future__ import annotations

import logging

from flask import Response, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from cds_hooks.evaluation import ingest_record
from cds_hooks.privacy import hash_patient_id
from cds_hooks.smart.page import SessionExpired, _failure, _load_session, _read_record, request_app
from cds_hooks.smart.record import FhirError
from cds_hooks.smart.state import blueprint, evaluation_date
from nelm_fhir.ingest import PatientMismatchError
from nelm_fhir.ingest.explain import USES, explain_record

__all__ = ["record_reading"]

log = logging.getLogger("nelm.smart")

USE_LABELS = {
    "used": "used",
    "superseded": "superseded by a newer result",
    "unreadable": "could not be read",
    "unusable": "not usable",
    "ignored": "not used by the pathway",
}


@blueprint.get("/app/reading")
def record_reading() -> BaseResponse:
    """Show every resource of the session's record with what became of it."""
    loaded_session = _load_session()
    if isinstance(loaded_session, BaseResponse):
        return loaded_session
    state, sid, data = loaded_session
    try:
        loaded = _read_record(state, sid, data)
        bundle = loaded.record.bundle()
        now = evaluation_date(state.settings, data.get("now"))
        profile = ingest_record(request_app(), bundle, patient_id=str(data["patient"]), now=now)
    except (SessionExpired, FhirError) as exc:
        return _failure(exc)
    except PatientMismatchError:
        return _failure(FhirError("the EHR's FHIR server returned resources of another patient; nothing is shown"))
    uses = explain_record(bundle, profile, request_app().extensions["nelm_terminology"])
    key = data.get("launch_key")
    back = url_for("smart.app_page", launch=key) if isinstance(key, str) else url_for("smart.app_page")
    log.info("smart reading page for %s", hash_patient_id(str(data["patient"]), state.settings.id_hash_key))
    html = render_template(
        "smart/reading.html",
        uses=uses,
        labels=USE_LABELS,
        counts={u: sum(1 for x in uses if x.use == u) for u in USES},
        back=back,
        evaluated=now.isoformat(),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
