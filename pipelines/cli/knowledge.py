"""``needle gaps``, ``needle verified`` (issue 27): what people asked that Needle could not answer, and
the expert answers that answer it from then on."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines.cli.common import EXIT_OK, print_json, whoami, writable_service

_service = writable_service
_whoami = whoami
_print_json = print_json


def cmd_gaps(args: argparse.Namespace) -> int:
    """Gap topics of the last ``--since``: questions abstained on, answered with a 👎 or escalated."""
    from pipelines.app.links import trace_url
    from pipelines.base.errors import NeedleError
    from pipelines.knowledge.gaps import parse_since, topics_csv

    try:
        since = parse_since(args.since)
    except ValueError as error:
        raise NeedleError(str(error)) from None
    service = _service()
    topics = service.knowledge.gaps(since)
    link = lambda trace_id: trace_url(service.settings, trace_id)  # noqa: E731
    if args.csv:
        sys.stdout.write(topics_csv(topics, link))
    elif args.json:
        _print_json(
            [{**topic.to_dict(), "trace_urls": [link(t) for t in topic.trace_ids]} for topic in topics]
        )
    elif not topics:
        print(f"No gaps in the last {args.since}: every question was answered, and nobody said 👎.")
    else:
        for topic in topics:
            channels = ", ".join(topic.channels) or "no channel"
            print(
                f"#{topic.topic}  {topic.people} people, {topic.count} questions  ({channels};"
                f" {topic.to_dict()['first_asked'][:10]} to {topic.to_dict()['last_asked'][:10]})"
            )
            for example in topic.examples:
                print(f"    - {example}")
            for trace_id in topic.trace_ids[:3]:
                print(f"    {link(trace_id)}")
    return EXIT_OK


def cmd_usage(args: argparse.Namespace) -> int:
    """Questions per day, answered and abstained, votes, escalations, channels and top questions."""
    from pipelines.base.errors import NeedleError
    from pipelines.knowledge.gaps import parse_since

    try:
        since = parse_since(args.since)
    except ValueError as error:
        raise NeedleError(str(error)) from None
    report = _service().knowledge.usage(since)
    if args.json:
        _print_json(report.to_dict())
        return EXIT_OK
    rate = f"{report.helpful_rate:.0%}" if report.helpful_rate is not None else "no votes"
    print(
        f"{report.questions} questions in the last {args.since}: {report.answered} answered, "
        f"{report.abstained} abstained; 👍 {report.up} 👎 {report.down} ({rate} helpful); "
        f"{report.escalations} escalations"
    )
    for day in report.days:
        if day.questions or day.escalations:
            print(f"  {day.day}  {day.questions:>5} questions  {day.abstained:>4} abstained")
    for row in report.top_questions:
        print(f"  {row['count']:>4}x  {row['question']}")
    return EXIT_OK


def cmd_owner(args: argparse.Namespace) -> int:
    """Set a source's owner (and review-by date)."""
    from pipelines.base.errors import SourceNotFoundError
    from pipelines.records.audience import ADMIN

    service = _service()
    source = next((s for s in service.list_sources(ADMIN) if s.source_id == args.source_id), None)
    if source is None:
        raise SourceNotFoundError(f"no source with id {args.source_id!r}; see `needle sources`")
    review = service.knowledge.freshness.set_owner(source, args.user, args.review_by, actor=args.actor)
    if args.json:
        _print_json(review.to_dict())
    else:
        print(f"{review.source_id}: owner {review.owner}, review by {review.review_by or 'not set'}")
    return EXIT_OK


def cmd_stale(args: argparse.Namespace) -> int:
    """Sources past their review-by date, with their owners."""
    from pipelines.records.audience import ADMIN

    service = _service()
    stale = service.knowledge.freshness.stale(service.list_sources(ADMIN))
    if args.json:
        _print_json([review.to_dict() for review in stale])
    elif not stale:
        print("No source is past its review-by date.")
    for review in [] if args.json else stale:
        print(
            f"{review.source_id}  review by {review.review_by}  owner {review.owner or '-'}"
            f"  last reviewed {review.last_reviewed or '-'}  {review.title}"
        )
    return EXIT_OK


def _print_verified(items: list[Any], as_json: bool) -> None:
    if as_json:
        _print_json([item.to_dict() for item in items])
        return
    for item in items:
        state = (
            "verified" if item.is_current() else ("expired" if item.status == "expired" else "past review")
        )
        print(f"{item.answer_id}  [{state}, review by {item.review_by}]  @{item.expert}: {item.question}")


def cmd_verified(args: argparse.Namespace) -> int:
    """Verified answers: add, list, show, edit, expire, remove."""
    from pipelines.base.errors import NeedleError

    if args.action in ("show", "edit", "expire", "remove") and not args.answer_id:
        raise NeedleError(f"needle verified {args.action} needs the verified answer's id")
    if args.action in ("list", "show", "expire"):
        store = _verified_records()
        if args.action == "list":
            _print_verified(store.list(), args.json)
        elif args.action == "show":
            item = store.get(args.answer_id)
            if args.json:
                _print_json(item.to_dict())
            else:
                _print_verified([item], False)
                print(f"\n{item.answer}\n\naudience: {', '.join(item.audience)}")
                for wording in item.phrasings:
                    print(f"also asked as: {wording}")
        else:
            item = store.expire(args.answer_id, actor=args.actor)
            _print_verified([item], args.json)
        return EXIT_OK
    service = _service()
    desk = service.knowledge
    if args.action == "add":
        if not args.question or not args.answer:
            raise NeedleError("needle verified add needs --question and --answer")
        item = desk.add_verified(
            args.question,
            args.answer,
            args.by or _whoami(),
            review_by=args.review_by,
            audience=args.audience,
            phrasings=args.also or [],
            actor=args.actor,
        )
    elif args.action == "edit":
        item = desk.edit_verified(
            args.answer_id,
            actor=args.actor,
            question=args.question,
            answer=args.answer,
            review_by=args.review_by,
            audience=args.audience,
            phrasings=args.also,
            expert=args.by,
        )
    else:  # remove
        item = desk.remove_verified(args.answer_id, actor=args.actor)
        if not args.json:
            print(f"removed verified answer {item.answer_id}")
            return EXIT_OK
    _print_verified([item], args.json)
    return EXIT_OK


def _verified_records() -> Any:
    """The verified answers over the configured record store, without loading models or the corpus."""
    from pipelines.base.settings import get_settings
    from pipelines.knowledge.verified import VerifiedAnswers
    from pipelines.records.audit import AuditLog
    from pipelines.stores import build_record_store

    audit = AuditLog(build_record_store(get_settings()))
    return VerifiedAnswers(audit.records, audit)


def add_commands(commands: Any) -> None:
    """Register ``gaps`` and ``verified`` on the ``needle`` parser's sub-commands."""
    gaps = commands.add_parser("gaps", help="questions Needle could not answer well, grouped into topics")
    gaps.add_argument("--since", default="30d", help="how far back: 30d (default), 12h, 2w")
    form = gaps.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--csv", action="store_true", help="print CSV, one topic a row")
    gaps.set_defaults(handler=cmd_gaps)

    owner = commands.add_parser("owner", help="set who owns a source, and when it is due for review")
    owner.add_argument("source_id")
    owner.add_argument("user", help="Slack user id or name of the owner")
    owner.add_argument("--review-by", help="YYYY-MM-DD: after it, answers citing it say 'last reviewed'")
    owner.add_argument("--actor", default=_whoami(), help="who makes the change, for the audit log")
    owner.add_argument("--json", action="store_true")
    owner.set_defaults(handler=cmd_owner)

    stale = commands.add_parser("stale", help="sources past their review-by date, with their owners")
    stale.add_argument("--json", action="store_true")
    stale.set_defaults(handler=cmd_stale)

    usage = commands.add_parser("usage", help="how Needle is used: questions, answers, votes, channels")
    usage.add_argument("--since", default="30d", help="how far back: 30d (default), 12h, 2w")
    usage.add_argument("--json", action="store_true")
    usage.set_defaults(handler=cmd_usage)

    verified = commands.add_parser("verified", help="expert answers given first: add, list, show, edit, ...")
    verified.add_argument("action", choices=["add", "list", "show", "edit", "expire", "remove"])
    verified.add_argument(
        "answer_id", nargs="?", help="the verified answer's id (show, edit, expire, remove)"
    )
    verified.add_argument("--question", help="the question it answers")
    verified.add_argument("--also", action="append", help="another wording of the question (repeatable)")
    verified.add_argument("--answer", help="the answer's text")
    verified.add_argument("--by", help="the expert (Slack user id or name); default: you")
    verified.add_argument("--review-by", help="YYYY-MM-DD; default: six months from today")
    verified.add_argument("--audience", help="everyone (default) or channel:C…, usergroup:S…, user:U…")
    verified.add_argument("--actor", default=_whoami(), help="who makes the change, for the audit log")
    verified.add_argument("--json", action="store_true")
    verified.set_defaults(handler=cmd_verified)
