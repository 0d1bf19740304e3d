"""The NELM Pathways benchmark suite (``make bench`` = ``python -m bench.run``).

- ``bench.records``: deterministic synthetic FHIR R4 records shaped like real US Core/mCODE data.
- ``bench.hookbody``: CDS Hooks request bodies (prefetch filled from a record, order-sign drafts).
- ``bench.stats`` / ``bench.report``: medians with spread, and the table with the issue's targets.
- ``bench.inprocess``: ingest + evaluate split by stage (parse, map, evaluate), and their profile.
- ``bench.serviceprofile``: one hook call inside the product app, own time grouped by layer.
- ``bench.servers`` / ``bench.load``: gunicorn launcher (ours and ``bench.baseline_app``) and wrk
  (saturating and paced clients).
- ``bench.fallback``: hooks without prefetch against a real SEKMET FHIR server.
- ``bench.http_parts``: the parts that run servers, wired together; ``bench.run`` the command.

Results and their reading: ``docs/performance.md``.
"""
