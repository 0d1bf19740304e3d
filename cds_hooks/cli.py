"""``nelm-cds``: the command line (serve, evaluate, check-mappings, db upgrade).

Each command's work lives in the module that owns it; this file only parses arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nelm-cds",
        description="NELM Pathways: CDS Hooks service and pathway engine for neuroendocrine liver metastases.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the CDS Hooks service and SMART app (gunicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: 2 x cores + 1, at most 8)")

    evaluate = sub.add_parser(
        "evaluate",
        help="rate every modality for one patient's FHIR R4 Bundle and print JSON",
        description="Read a FHIR R4 Bundle (JSON) holding one patient's record and print the evaluation "
        "(CONTRACT.md section 4). Exit 2 when the file is not a readable FHIR R4 Bundle.",
    )
    evaluate.add_argument("file", help="path of a FHIR R4 Bundle (JSON); - for standard input")
    evaluate.add_argument("--now", help="evaluation date YYYY-MM-DD (default: today)")
    evaluate.add_argument("--format", choices=["json", "text"], default="json", help="json (default) or text")
    evaluate.add_argument("--config", help="site pathway configuration (JSON) overriding configurable thresholds")
    evaluate.add_argument(
        "--explain",
        action="store_true",
        help="also list every resource of the record, used or not, and why (JSON key recordReading; a table in text)",
    )

    check = sub.add_parser(
        "check-mappings",
        help="validate terminology mapping files (site ConceptMaps or mappings/ files)",
        description="Validate mapping files; prints each problem with file and entry; exit 1 if any.",
    )
    check.add_argument("files", nargs="*", help="files to check (default: the whole mappings/ folder)")

    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    dbsub.add_parser("upgrade", help="apply Alembic migrations to NELM_DATABASE_URL (idempotent)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "evaluate":
        from nelm_fhir.report import run_evaluate

        return run_evaluate(args.file, now=args.now, fmt=args.format, config_path=args.config, explain=args.explain)
    if args.command == "check-mappings":
        from nelm_fhir.terminology import check_mappings_main

        return check_mappings_main(args.files)
    if args.command == "serve":
        from cds_hooks.serve import serve_main

        return serve_main(host=args.host, port=args.port, workers=args.workers)
    if args.command == "db":
        from cds_hooks.store import upgrade_main

        return upgrade_main()
    return 2  # unreachable: argparse enforces the commands


if __name__ == "__main__":
    sys.exit(main())
