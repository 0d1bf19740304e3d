"""Run inside ``.venv-healthchain``: parse CDS Hooks JSON files with HealthChain's own pydantic models.

Usage: ``python healthchain_check.py DIR`` where DIR holds ``discovery*.json``, ``request*.json`` and
``response*.json`` files. Prints one JSON object: file name -> list of [error type, dotted location]
(list indices dropped). Imports nothing of ours: it runs in HealthChain's environment.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from healthchain.models.requests.cdsrequest import CDSRequest
from healthchain.models.responses.cdsdiscovery import CDSServiceInformation
from healthchain.models.responses.cdsfeedback import CDSFeedback
from healthchain.models.responses.cdsresponse import CDSResponse
from pydantic import BaseModel, ValidationError

MODELS: dict[str, type[BaseModel]] = {
    "discovery": CDSServiceInformation,
    "request": CDSRequest,
    "response": CDSResponse,
    "feedback": CDSFeedback,
}


def main(folder: str) -> None:
    """Print the validation errors of every JSON file in ``folder`` as one JSON object."""
    report: dict[str, list[list[str]]] = {}
    for path in sorted(Path(folder).glob("*.json")):
        model = MODELS[path.name.split("-", 1)[0]]
        try:
            model.model_validate(json.loads(path.read_text(encoding="utf-8")))
            report[path.name] = []
        except ValidationError as exc:
            report[path.name] = sorted(
                {(e["type"], ".".join(str(x) for x in e["loc"] if not isinstance(x, int))) for e in exc.errors()}
            )
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
