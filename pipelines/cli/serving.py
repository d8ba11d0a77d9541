"""Running Needle: ``doctor`` (checks before employees ask) and ``serve`` (every face on one server)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pipelines.cli import common
from pipelines.cli.common import EXIT_ERROR, EXIT_OK, logger


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check every part Needle will use, one line each, and say whether it is ready (see doctor.py)."""
    from pipelines.app.doctor import format_report, run_doctor
    from pipelines.base.settings import get_settings

    report = run_doctor(get_settings(), store_smoke=args.store_smoke)
    print(json.dumps(report.as_json()) if args.json else format_report(report))
    return EXIT_OK if report.ready else EXIT_ERROR


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the HTTP server with every installed face (admin console, Slack bot) over one core."""
    from pipelines.app import server
    from pipelines.base.logging_setup import configure_logging
    from pipelines.base.settings import get_settings

    configure_logging(get_settings(), json_lines=get_settings().log_format == "json")
    service = common.service()
    app, faces = server.build_server(service, set(args.faces.split(",")) if args.faces else None)
    settings = service.settings
    problem = service.llm_status.probe()
    if problem:  # answers fall back to extracts meanwhile, so the server still starts
        logger.warning("language model: %s", problem)
        print(f"needle: warning: {problem}; answers are extracts until it is fixed", file=sys.stderr)
    print(f"Needle on http://{settings.host}:{settings.port} with: {', '.join(faces) or 'no faces'}")
    server.run(service, app)
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Add this group's commands to ``needle``'s sub-command parser."""
    doctor = commands.add_parser(
        "doctor", help="check the store, embedder, LLM, Slack and console where Needle will run"
    )
    doctor.add_argument("--json", action="store_true", help="the checks as JSON")
    doctor.add_argument(
        "--store-smoke",
        action="store_true",
        help="on Elasticsearch: index the sample handbook into a temporary index, compare answers with "
        "the embedded store, delete the index",
    )
    doctor.set_defaults(handler=cmd_doctor)

    serve = commands.add_parser("serve", help="run the admin console and, when configured, the Slack bot")
    serve.add_argument("--faces", help="comma-separated faces to mount (default: all installed)")
    serve.set_defaults(handler=cmd_serve)
