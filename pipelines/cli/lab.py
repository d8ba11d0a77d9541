"""The retrieval lab: ``eval``, ``eval-answers``, ``cases``, ``compare``, ``config``, ``why``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pipelines.cli import common
from pipelines.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure retrieval on a BEIR-format dataset (see pipelines/lab/evaluation.py)."""
    from pipelines.base.settings import get_settings
    from pipelines.lab.evaluation import run_eval, write_report

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


def cmd_eval_answers(args: argparse.Namespace) -> int:
    """Measure answers (accuracy, citations, abstention) on a SQuAD file or a Needle question file."""
    from pipelines.base.settings import get_settings
    from pipelines.lab.answer_eval import load_answer_dataset, run_answer_eval
    from pipelines.lab.evaluation import write_report

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
    print(
        f"{report['dataset']}: {report['documents']} documents, mode {report['mode']}, "
        f"threshold {report['answerability_threshold']}"
    )
    answerer = "the extract" if report["mode"] == "extract" else "the model"
    print(
        f"{'':<8} {'n':>5} {'accuracy':>9} {'cited':>7} {'abstain':>8} {'false-abst':>10} {'p50 ms':>7} "
        f"{'reached':>9} {'stopped':>9}"
    )
    rows = {**report["languages"], "all": report["overall"]}
    for name, row in rows.items():
        figures = [row[key] for key in ("accuracy", "citation_rate", "abstention", "false_abstention")]
        shown = ["   -" if value is None else f"{value:.3f}" for value in figures]
        reached = f"{row['reached']}/{row['answerable']}"
        stopped = f"{row['stopped']}/{row['unanswerable']}"
        print(
            f"{name:<8} {row['questions']:>5} {shown[0]:>9} {shown[1]:>7} {shown[2]:>8} {shown[3]:>10} "
            f"{row['latency_ms']['p50']:>7} {reached:>9} {stopped:>9}"
        )
    print(
        f"reached: answerable questions the answerability gate let through to {answerer}; "
        "stopped: unanswerable ones it kept from it"
    )
    return EXIT_OK


def cmd_cases(args: argparse.Namespace) -> int:
    """Retrieval test cases: add, list, remove, import and export (JSON lines)."""
    from pipelines.base.settings import get_settings
    from pipelines.records.cases import CaseStore
    from pipelines.stores import build_record_store

    if args.action == "add":
        return _add_case(args)
    if args.action == "import":
        return _import_cases(args)
    cases = CaseStore(build_record_store(get_settings()))
    if args.action == "list":
        listed = cases.list()
        if args.json:
            common.print_json([case.to_dict() for case in listed])
        for case in [] if args.json else listed:
            expected = ", ".join(case.expected_chunks or case.expected_sources)
            print(f"{case.case_id}  {case.question}  ->  {expected}")
        if not listed and not args.json:
            print('No test cases yet. Add one: needle cases add "question" --source SOURCE_ID')
    elif args.action == "remove":
        if not cases.remove(args.question or ""):
            print(f"needle: no case {args.question!r}", file=sys.stderr)
            return EXIT_ERROR
        print(f"removed case {args.question}")
    else:  # export
        for line in cases.export_lines():
            print(line)
    return EXIT_OK


def _add_case(args: argparse.Namespace) -> int:
    """``needle cases add``: through :meth:`NeedleService.add_case`, the one check that the expected
    sources are indexed (the console's check too), so a typo cannot store a case no configuration can
    pass. An unknown source id is the caller's input, hence a usage error."""
    from pipelines.base.errors import SourceNotFoundError
    from pipelines.records.cases import RetrievalCase

    if not args.question:
        print("needle cases add: give the question", file=sys.stderr)
        return EXIT_USAGE
    case = RetrievalCase(
        question=args.question,
        expected_sources=common.split_tags(args.source),
        expected_chunks=common.split_tags(args.chunk),
        added_by=args.by,
        note=args.note,
    )
    try:
        added = common.service().add_case(case)
    except SourceNotFoundError as error:
        print(f"needle cases add: {error}; nothing added (`needle sources` lists the ids)", file=sys.stderr)
        return EXIT_USAGE
    print(f"added case {added.case_id}")
    return EXIT_OK


def _import_cases(args: argparse.Namespace) -> int:
    """``needle cases import FILE``: through :meth:`NeedleService.import_cases`, so every case passes
    the check ``cases add`` makes. Every bad line is printed as ``FILE:LINE: reason`` (the form editors
    jump to) and nothing is imported, so fixing the file and running the command again is all it takes
    (half a set imported would let a CI comparison pass on the other half). Bad input is a usage error."""
    from pathlib import Path

    from pipelines.records.cases import CaseImportError

    if not args.question:
        print("needle cases import: give the JSON-lines file of cases", file=sys.stderr)
        return EXIT_USAGE
    try:
        lines = Path(args.question).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        print(f"needle cases import: {args.question} is not UTF-8 text; nothing imported", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"needle cases import: cannot read {args.question}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    try:
        imported = common.service().import_cases(lines, added_by=args.by)
    except CaseImportError as error:
        for number, reason in error.problems:
            print(f"{args.question}:{number}: {reason}", file=sys.stderr)
        bad = len({number for number, _ in error.problems})
        print(
            f"needle cases import: {bad} bad line(s) in {args.question}; nothing imported "
            "(`needle sources` lists the source ids)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(f"imported {len(imported)} cases")
    return EXIT_OK


def _print_comparison(comparison: Any) -> None:
    """The metrics (hit@top_k at each side's own top_k, shown in its label), then each case: ranks,
    whether the answer was found with its expected source cited, and its two traces."""
    names = list(comparison.live_metrics)
    widths = [max(10, len(comparison.metric_label(name))) for name in names]
    labels = (f"{comparison.metric_label(name):>{width}}" for name, width in zip(names, widths, strict=True))
    print(f"{'':<10} " + " ".join(labels))
    for label, metrics in (("live", comparison.live_metrics), ("candidate", comparison.candidate_metrics)):
        figures = (f"{metrics[name]:>{width}.4f}" for name, width in zip(names, widths, strict=True))
        print(f"{label:<10} " + " ".join(figures))
    print()

    def answered(found: bool, answered: bool) -> str:
        return "answered" if answered else ("other source" if found else "not found")

    for case in comparison.cases:
        flag = "  LOST" if case.lost else ""
        ranks = f"{case.live_rank or '-'} -> {case.candidate_rank or '-'}"
        print(f"{case.outcome:<7} {ranks:<10} {case.case_id}  {case.question}{flag}")
        live = answered(case.live_found, case.live_answered)
        candidate = answered(case.candidate_found, case.candidate_answered)
        given = f"{'yes' if case.live_reached else 'no'} -> {'yes' if case.candidate_reached else 'no'}"
        print(f"{'':<18} given to the answerer: {given}; answer: {live} -> {candidate}")
        traces = f"live {case.live_trace_id or '-'}, candidate {case.candidate_trace_id or '-'}"
        print(f"{'':<18} traces: {traces}")


def cmd_compare(args: argparse.Namespace) -> int:
    """Live configuration against a candidate: on the test cases, or on a BEIR dataset (as needle eval)."""
    from pipelines.lab.compare import compare_cases, compare_dataset
    from pipelines.records.retrieval_config import parse_assignments

    candidate = parse_assignments(args.candidate)
    if args.dataset:
        from pipelines.base.settings import get_settings

        report = compare_dataset(
            args.dataset, args.split, get_settings(), candidate, progress=lambda m: print(m, file=sys.stderr)
        )
        common.print_json(report)
        return EXIT_OK
    service = common.service()
    comparison = compare_cases(service, candidate, actor=common.whoami())
    if args.json:
        common.print_json(_with_trace_links(service.settings, comparison.to_dict()))
    else:
        _print_comparison(comparison)
    return EXIT_ERROR if comparison.lost else EXIT_OK


def _with_trace_links(settings: Any, report: dict[str, Any]) -> dict[str, Any]:
    """Each case's two trace ids with their console links, so a CI log leads straight to the debugger."""
    from pipelines.app.links import trace_url

    for case in report["cases"]:
        for leg in ("live", "candidate"):
            trace_id = case.get(f"{leg}_trace_id")
            case[f"{leg}_trace_url"] = trace_url(settings, trace_id) if trace_id else None
    return report


def cmd_config(args: argparse.Namespace) -> int:
    """The live retrieval configuration: show, history, promote a candidate, roll back."""
    from datetime import UTC, datetime

    from pipelines.lab.compare import promote
    from pipelines.records.retrieval_config import effective_values, parse_assignments

    service = common.service()
    if args.action == "show":
        live = service.configs.live()
        common.print_json(
            {
                "config_id": live.config_id if live else "default",
                "values": effective_values(service.configs.live_settings()),
                "promoted_by": live.promoted_by if live else None,
                "note": live.note if live else "the environment's settings",
            }
        )
    elif args.action == "history":
        for item in service.configs.history():
            when = datetime.fromtimestamp(item.at, UTC).strftime("%Y-%m-%d %H:%M")
            print(f"{item.config_id}  {when}  {item.promoted_by or '-':<12} {item.values}  {item.note}")
    elif args.action == "promote":
        promoted, comparison = promote(
            service, parse_assignments(args.values or ""), args.by, args.note or "", confirm=args.confirm
        )
        if comparison is not None:
            _print_comparison(comparison)
        print(f"promoted {promoted.config_id}: {promoted.values}")
    else:  # rollback
        promoted = service.configs.rollback(args.values or "default", args.by, note=args.note)
        print(f"rolled back: {promoted.config_id} is live with {promoted.values or 'the defaults'}")
    return EXIT_OK


def cmd_why(args: argparse.Namespace) -> int:
    """Why a source or chunk was, or was not, given to the answerer for a question."""
    from pipelines.lab.why import explain, format_explanation

    service = common.service()
    explanation = explain(
        service,
        args.question,
        args.target,
        tags=common.split_tags(args.tags),
        viewer=common.viewer(args, service),
    )
    if args.json:
        common.print_json(explanation.to_dict())
    else:
        print(format_explanation(explanation))
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Add this group's commands to ``needle``'s sub-command parser."""
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

    cases = commands.add_parser("cases", help="retrieval test cases: add, list, remove, import, export")
    cases.add_argument("action", choices=["add", "list", "remove", "import", "export"])
    cases.add_argument(
        "question", nargs="?", help="the question (add), a case id (remove) or a file (import)"
    )
    cases.add_argument("--source", help="comma-separated source ids that should answer it")
    cases.add_argument("--chunk", help="comma-separated chunk ids that should answer it")
    cases.add_argument("--note", help="why this case matters")
    cases.add_argument("--by", default=common.whoami(), help="who adds it")
    cases.add_argument("--json", action="store_true")
    cases.set_defaults(handler=cmd_cases)

    compare = commands.add_parser("compare", help="the live retrieval configuration against a candidate")
    compare.add_argument("--cases", action="store_true", help="run the test cases (the default)")
    compare.add_argument("--dataset", help="a BEIR folder: run needle eval under both configurations instead")
    compare.add_argument("--split", default="test")
    compare.add_argument("--candidate", required=True, help="KEY=VALUE,... e.g. dense_weight=0,fusion=rrf")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(handler=cmd_compare)

    config = commands.add_parser("config", help="the live retrieval configuration: show, promote, roll back")
    config.add_argument("action", choices=["show", "history", "promote", "rollback"])
    config.add_argument("values", nargs="?", help="KEY=VALUE,... (promote) or a configuration id (rollback)")
    config.add_argument("--note", help="why (kept with the promotion)")
    config.add_argument("--confirm", action="store_true", help="promote even if the candidate loses cases")
    config.add_argument("--by", default=common.whoami(), help="who promotes (audit log)")
    config.set_defaults(handler=cmd_config)

    why = commands.add_parser("why", help="why a source or chunk was (not) retrieved for a question")
    why.add_argument("question")
    why.add_argument("target", metavar="SOURCE_OR_CHUNK_ID")
    why.add_argument("--tags", help="the question's tag filter (comma-separated), as a channel's")
    why.add_argument("--as-user", metavar="USER_ID", help="explain for this Slack user's view")
    why.add_argument("--channel", metavar="CHANNEL_ID", help="explain for an answer posted in this channel")
    why.add_argument("--json", action="store_true")
    why.set_defaults(handler=cmd_why)
