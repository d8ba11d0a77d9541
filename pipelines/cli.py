"""The ``needle`` command: ingest, ask, list and delete sources from a terminal.

Results go to stdout (``--json`` for scripts), errors to stderr with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

DEMO_QUESTIONS = (
    "How many vacation days do I get?",
    "When is business class allowed for flights?",
    "我每年有多少天年假？",
)

logger = logging.getLogger("needle")


def _quiet_libraries() -> None:
    """Keep model-loading progress bars and library chatter out of the CLI's output."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TQDM_DISABLE", "1")


def _service() -> Any:
    from pipelines.service import NeedleService
    from pipelines.settings import get_settings

    return NeedleService(get_settings())


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def _split_tags(raw: str | None) -> list[str]:
    return [tag.strip() for tag in (raw or "").split(",") if tag.strip()]


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pipelines.samples import handbook_dir
    from pipelines.service import expand_paths

    paths = list(args.paths) + ([str(handbook_dir())] if args.samples else [])
    if not paths:
        print("needle ingest: give one or more files or folders, or --samples", file=sys.stderr)
        return EXIT_USAGE
    files = expand_paths(paths)
    if not files:
        print("needle ingest: no supported files found", file=sys.stderr)
        return EXIT_ERROR
    missing = [str(path) for path in files if not path.exists()]
    if missing:
        print(f"needle ingest: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_ERROR
    service = _service()
    results = []
    bar = tqdm(
        files, desc="Indexing", unit="file", disable=args.json or not sys.stderr.isatty(), file=sys.stderr
    )
    for path in bar:
        bar.set_postfix_str(path.name[:30])
        result = service.ingest_file(
            path,
            title=args.title,
            url=args.url,
            tags=None if args.tags is None else _split_tags(args.tags),  # --tags "" clears them
            uploaded_by=args.uploaded_by,
        )
        results.append(result)
        if not args.json:
            if result.status == "rejected":
                print(f"rejected   {result.file_name}: {result.reason}", file=sys.stderr)
            else:
                print(
                    f"{result.status:<10} {result.file_name} -> {result.source_id} ({result.chunks} chunks)"
                )
    if args.json:
        _print_json([result.to_dict() for result in results])
    return EXIT_ERROR if any(result.status == "rejected" for result in results) else EXIT_OK


def _format_answer(answer: Any) -> str:
    lines = [answer.text, ""]
    for heading, citations in (("Sources:", answer.citations), ("Might be related:", answer.related)):
        if citations:
            lines.append(heading)
            for citation in citations:
                detail = ", ".join(part for part in (citation.location, citation.date_label) if part)
                number = f"[{citation.number}] " if answer.found else "- "
                lines.append(f"  {number}{citation.title} ({detail})")
    lines.append(f"trace: {answer.trace_id}")
    return "\n".join(lines)


def _read_questions(path: str) -> list[str]:
    """One question per line: plain text, or JSON objects with a ``question`` field (JSON lines)."""
    from pathlib import Path

    from pipelines.errors import NeedleError

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
    service = _service()
    stream = None
    if args.stream and not args.json:

        def stream(text: str) -> None:
            print(text, end="", flush=True, file=sys.stderr)

    answer = service.ask(args.question, tags=_split_tags(args.tags), origin="cli", on_text=stream)
    if args.json:
        _print_json(answer.to_dict())
    else:
        print(_format_answer(answer))
    return EXIT_OK


def _ask_many(args: argparse.Namespace) -> int:
    """Answer every question of a file in one process; JSON lines (or text blocks) in input order.

    A question that cannot be answered (empty, too long) gets ``{"question", "error"}`` and the rest go on.
    """
    from pipelines.errors import NeedleError

    questions = _read_questions(args.questions)
    service = _service()
    failed = False
    for question in questions:
        try:
            answer = service.ask(question, tags=_split_tags(args.tags), origin="cli")
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


def cmd_eval_answers(args: argparse.Namespace) -> int:
    """Measure answers (accuracy, citations, abstention) on a SQuAD file or a Needle question file."""
    from pipelines.answer_eval import load_answer_dataset, run_answer_eval
    from pipelines.evaluation import write_report
    from pipelines.settings import get_settings

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    dataset = load_answer_dataset(args.dataset, args.corpus)
    report = run_answer_eval(dataset, get_settings(), limit=args.limit, progress=say)
    if args.output:
        write_report(args.output, report)
    if not args.cases:
        report = {key: value for key, value in report.items() if key != "cases"}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return EXIT_OK
    print(f"{report['dataset']}: {report['documents']} documents, mode {report['mode']}, "
          f"threshold {report['answerability_threshold']}")
    print(f"{'':<8} {'n':>5} {'accuracy':>9} {'cited':>7} {'abstain':>8} {'false-abst':>10} {'p50 ms':>7}")
    rows = {**report["languages"], "all": report["overall"]}
    for name, row in rows.items():
        figures = [row[key] for key in ("accuracy", "citation_rate", "abstention", "false_abstention")]
        shown = ["   -" if value is None else f"{value:.3f}" for value in figures]
        print(
            f"{name:<8} {row['questions']:>5} {shown[0]:>9} {shown[1]:>7} {shown[2]:>8} {shown[3]:>10} "
            f"{row['latency_ms']['p50']:>7}"
        )
    return EXIT_OK


def cmd_sources(args: argparse.Namespace) -> int:
    sources = _service().list_sources()
    if args.json:
        _print_json([source.to_dict() for source in sources])
        return EXIT_OK
    if not sources:
        print("No sources yet. Add some with: needle ingest PATH")
        return EXIT_OK
    print(f"{'SOURCE ID':<36} {'CHUNKS':>6}  {'TYPE':<8} {'INDEXED':<25} TITLE")
    for source in sources:
        columns = f"{source.source_id:<36} {source.chunks:>6}  {source.file_type:<8} {source.indexed_at:<25}"
        print(f"{columns} {source.title}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    removed = _service().delete_source(args.source_id)
    print(f"deleted {args.source_id} ({removed} chunks)")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Index the bundled handbook and answer a few questions from it: the README's first command."""
    from pipelines.samples import handbook_dir

    service = _service()
    print(f"Indexing the sample handbook from {handbook_dir()} ...")
    for result in service.ingest_paths([handbook_dir()]):
        detail = result.reason if result.status == "rejected" else f"{result.chunks} chunks"
        print(f"  {result.status:<10} {result.file_name} ({detail})")
    for question in args.questions or DEMO_QUESTIONS:
        print(f"\nQ: {question}")
        print(_format_answer(service.ask(question, origin="cli")))
    stats = service.stats()
    print(
        f"\n{stats['sources']} sources, {stats['chunks']} chunks in {service.settings.data_dir}.\n"
        'Ask your own: needle ask "How do I connect to the VPN?"'
    )
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure retrieval on a BEIR-format dataset (see pipelines/evaluation.py)."""
    from pipelines.evaluation import run_eval, write_report
    from pipelines.settings import get_settings

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = run_eval(args.dataset, args.split, get_settings(), progress=say)
    if args.output:
        write_report(args.output, report)
    if args.json:
        print(json.dumps(report))
        return EXIT_OK
    print(f"{report['dataset']} ({report['split']}, {report['queries']} queries, {report['chunks']} chunks)")
    print(f"{'':<10} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8}")
    for name in ("bm25", "dense", "fused", "reranked"):
        if report[name] is not None:
            row = report[name]
            print(f"{name:<10} {row['ndcg@10']:>8.4f} {row['recall@100']:>8.4f} {row['mrr@10']:>8.4f}")
    print(
        f"indexing {report['index_seconds']} s ({report['chunks_per_second']} chunks/s), "
        f"query p50 {report['query_ms']['p50']} ms, p95 {report['query_ms']['p95']} ms"
    )
    return EXIT_OK


def cmd_reindex(args: argparse.Namespace) -> int:
    """Rebuild the index under the current settings (new model, analysers, chunking) without downtime."""
    from pipelines.reindex import reindex

    report = reindex(_service(), keep_old=not args.delete_old, progress=lambda m: print(m, file=sys.stderr))
    _print_json(report)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the HTTP server with every installed face (admin console, Slack bot) over one core."""
    from pipelines import server
    from pipelines.logging_setup import configure_logging
    from pipelines.settings import get_settings

    configure_logging(get_settings(), json_lines=get_settings().log_format == "json")
    service = _service()
    app, faces = server.build_server(service, set(args.faces.split(",")) if args.faces else None)
    settings = service.settings
    print(f"Needle on http://{settings.host}:{settings.port} with: {', '.join(faces) or 'no faces'}")
    server.run(service, app)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="needle", description="Answers questions from your documents.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="index files or folders (PDF, DOCX, HTML, Markdown, text)")
    ingest.add_argument("paths", nargs="*", metavar="PATH")
    ingest.add_argument("--samples", action="store_true", help="also index the bundled sample handbook")
    ingest.add_argument("--title", help="title for the source (default: the document's own title)")
    ingest.add_argument("--url", help="link shown with citations of this source")
    ingest.add_argument(
        "--tags", help="comma-separated tags for per-channel filters (default: keep the source's; '' clears)"
    )
    ingest.add_argument("--uploaded-by", default=os.environ.get("USER"), help="who added the source")
    ingest.add_argument("--json", action="store_true", help="print results as JSON")
    ingest.set_defaults(handler=cmd_ingest)

    ask = commands.add_parser("ask", help="answer a question from the indexed sources")
    ask.add_argument("question", nargs="?")
    ask.add_argument(
        "--questions", metavar="FILE", help="answer every question in FILE (one per line, or JSON lines)"
    )
    ask.add_argument("--tags", help="answer only from sources with any of these comma-separated tags")
    ask.add_argument("--json", action="store_true", help="print the answer, citations and passages as JSON")
    ask.add_argument("--stream", action="store_true", help="show LLM text as it arrives (on stderr)")
    ask.set_defaults(handler=cmd_ask)

    sources = commands.add_parser("sources", help="list indexed sources with their chunk counts")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(handler=cmd_sources)

    delete = commands.add_parser("delete", help="remove a source and all its chunks")
    delete.add_argument("source_id")
    delete.set_defaults(handler=cmd_delete)

    demo = commands.add_parser("demo", help="index the sample handbook and answer questions from it")
    demo.add_argument("questions", nargs="*", metavar="QUESTION")
    demo.set_defaults(handler=cmd_demo)

    evaluate = commands.add_parser("eval", help="measure retrieval on a BEIR-format dataset")
    evaluate.add_argument("--dataset", required=True, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    evaluate.add_argument("--split", default="test", help="qrels file to use (default: test)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--output", help="also write the JSON report to this file")
    evaluate.set_defaults(handler=cmd_eval)

    answers = commands.add_parser(
        "eval-answers", help="measure answers: accuracy, citations and abstention on a question set"
    )
    answers.add_argument("--dataset", required=True, help="a SQuAD .json file or a Needle .jsonl file")
    answers.add_argument("--corpus", help="folder of documents for a .jsonl question file")
    answers.add_argument("--limit", type=int, help="ask at most this many questions (a fixed sample)")
    answers.add_argument("--json", action="store_true", help="print one JSON object")
    answers.add_argument("--cases", action="store_true", help="include every question's answer in the JSON")
    answers.add_argument("--output", help="write the JSON report, every question included, to this file")
    answers.set_defaults(handler=cmd_eval_answers)

    reindex = commands.add_parser("reindex", help="rebuild the index under the current settings, no downtime")
    reindex.add_argument("--delete-old", action="store_true", help="delete the previous Elasticsearch index")
    reindex.set_defaults(handler=cmd_reindex)

    serve = commands.add_parser("serve", help="run the admin console and, when configured, the Slack bot")
    serve.add_argument("--faces", help="comma-separated faces to mount (default: all installed)")
    serve.set_defaults(handler=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_libraries()
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from pipelines.errors import NeedleError
    from pipelines.models import ModelNotFoundError
    from pipelines.settings import SettingsError

    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (SettingsError, ModelNotFoundError, NeedleError) as error:
        print(f"needle: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
