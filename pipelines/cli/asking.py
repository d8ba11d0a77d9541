"""Questions: ``ask`` (one, a file of them, as a Slack user would be answered) and ``demo``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pipelines.cli import common
from pipelines.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from pipelines.samples import SAMPLE_QUESTIONS as DEMO_QUESTIONS


def _format_answer(answer: Any) -> str:
    from pipelines.querying.citations import UNCITED_NOTE

    lines = [answer.text, ""]
    related = UNCITED_NOTE if answer.uncited else "Might be related:"
    for heading, citations in (("Sources:", answer.citations), (related, answer.related)):
        if citations:
            lines.append(heading)
            for citation in citations:
                detail = ", ".join(part for part in (citation.location, citation.date_label) if part)
                number = f"[{citation.number}] " if heading == "Sources:" else "- "
                lines.append(f"  {number}{citation.title} ({detail})")
    lines.append(f"trace: {answer.trace_id}")
    return "\n".join(lines)


def _read_questions(path: str) -> list[str]:
    """One question per line: plain text, or JSON objects with a ``question`` field (JSON lines)."""
    from pathlib import Path

    from pipelines.base.errors import NeedleError

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise NeedleError(f"cannot read {path}: {error}") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                questions.append(str(json.loads(line)["question"]))
            except (ValueError, KeyError, TypeError):
                raise NeedleError(f"{path}:{number}: expected a JSON object with a 'question'") from None
        else:
            questions.append(line)
    return questions


def cmd_ask(args: argparse.Namespace) -> int:
    if args.questions:
        return _ask_many(args)
    if not args.question:
        print("needle ask: give a question, or --questions FILE", file=sys.stderr)
        return EXIT_USAGE
    service = common.service()
    stream = None
    if args.stream and not args.json:

        def stream(text: str) -> None:
            print(text, end="", flush=True, file=sys.stderr)

    answer = service.ask(
        args.question,
        tags=common.split_tags(args.tags),
        origin="cli",
        on_text=stream,
        viewer=common.viewer(args, service),
    )
    if args.json:
        common.print_json(answer.to_dict())
    else:
        print(_format_answer(answer))
    return EXIT_OK


def _ask_many(args: argparse.Namespace) -> int:
    """Answer every question of a file in one process; JSON lines (or text blocks) in input order.

    A question that cannot be answered (empty, too long) gets ``{"question", "error"}`` and the rest go on.
    """
    from pipelines.base.errors import NeedleError

    questions = _read_questions(args.questions)
    service = common.service()
    viewer = common.viewer(args, service)
    failed = False
    for question in questions:
        try:
            answer = service.ask(question, tags=common.split_tags(args.tags), origin="cli", viewer=viewer)
        except NeedleError as error:
            failed = True
            payload: dict[str, Any] = {"question": question, "error": str(error)}
            print(json.dumps(payload, ensure_ascii=False) if args.json else f"Q: {question}\n{error}\n")
            continue
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False, default=str), flush=True)
        else:
            print(f"Q: {question}\n{_format_answer(answer)}\n", flush=True)
    return EXIT_ERROR if failed else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Index the bundled handbook and answer a few questions from it: the README's first command."""
    from pipelines.records.audience import ADMIN
    from pipelines.samples import handbook_dir

    service = common.service()
    print(f"Indexing the sample handbook from {handbook_dir()} ...")
    for result in service.ingest_paths([handbook_dir()], uploaded_by=common.whoami()):
        detail = result.reason if result.status == "rejected" else f"{result.chunks} chunks"
        print(f"  {result.status:<10} {result.file_name} ({detail})")
    for question in args.questions or DEMO_QUESTIONS:
        print(f"\nQ: {question}")
        print(_format_answer(service.ask(question, origin="cli", viewer=ADMIN)))
    stats = service.stats()
    print(
        f"\n{stats['sources']} sources, {stats['chunks']} chunks in {service.settings.data_dir}.\n"
        'Ask your own: needle ask "How do I connect to the VPN?"'
    )
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Add this group's commands to ``needle``'s sub-command parser."""
    ask = commands.add_parser("ask", help="answer a question from the indexed sources")
    ask.add_argument("question", nargs="?")
    ask.add_argument(
        "--questions", metavar="FILE", help="answer every question in FILE (one per line, or JSON lines)"
    )
    ask.add_argument("--tags", help="answer only from sources with any of these comma-separated tags")
    ask.add_argument("--json", action="store_true", help="print the answer, citations and passages as JSON")
    ask.add_argument("--stream", action="store_true", help="show LLM text as it arrives (on stderr)")
    ask.add_argument("--as-user", metavar="USER_ID", help="answer as this Slack user would be answered")
    ask.add_argument(
        "--channel", metavar="CHANNEL_ID", help="answer as if posted in this channel (its audience applies)"
    )
    ask.set_defaults(handler=cmd_ask)

    demo = commands.add_parser("demo", help="index the sample handbook and answer questions from it")
    demo.add_argument("questions", nargs="*", metavar="QUESTION")
    demo.set_defaults(handler=cmd_demo)
