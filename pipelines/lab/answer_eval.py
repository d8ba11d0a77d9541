"""``needle eval-answers``: measure the answer an employee reads, not only the passages retrieved.

A dataset is a corpus plus questions. Every document goes through the real indexing pipeline into a fresh
store; every question goes through :meth:`NeedleService.ask`, exactly as from Slack (answerability gate,
extract or LLM, citations). Answerable questions are right when the answer contains one of their gold
strings; unanswerable ones are right when Needle says the documents do not answer them (``found`` false).

Two formats are read:

- SQuAD 1.1 JSON (``../shared/eval/answers/``): one document per article. A fixed, hash-chosen fraction
  of the documents is held back from the store, so their questions become unanswerable while related
  documents remain, which is the realistic hard case.
- Needle's own question file: JSON lines ``{"question", "gold": [...], "source": file name}`` or
  ``{"question", "unanswerable": true}``, with a corpus folder (``tests/data/handbook_answers.jsonl`` over
  the sample handbook).
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings
from pipelines.lab.evaluation import percentile, replace_settings
from pipelines.records.audience import ADMIN
from pipelines.text.basics import query_language

#: Fraction of a SQuAD file's documents left out of the store, so their questions have no answer.
DEFAULT_HOLDOUT = 0.25


@dataclass(frozen=True)
class AnswerCase:
    """One question: its gold strings and source file, or no answer in the corpus at all."""

    question: str
    gold: tuple[str, ...] = ()
    source: str | None = None
    unanswerable: bool = False
    language: str = "en"


@dataclass(frozen=True)
class AnswerDataset:
    """Documents to index (file name -> bytes) and the questions to ask about them."""

    name: str
    documents: dict[str, bytes]
    cases: list[AnswerCase]


@dataclass
class CaseResult:
    """What Needle answered for one case, and whether that was right."""

    case: AnswerCase
    found: bool
    correct: bool
    cited_gold: bool
    ms: float
    answer: str
    cited_files: list[str] = field(default_factory=list)
    answerability: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.case.question,
            "language": self.case.language,
            "unanswerable": self.case.unanswerable,
            "gold": list(self.case.gold),
            "source": self.case.source,
            "found": self.found,
            "correct": self.correct,
            "cited_gold": self.cited_gold,
            "cited_files": self.cited_files,
            "ms": round(self.ms, 1),
            "answerability": self.answerability,
            "answer": self.answer,
        }


def _held_out(names: Iterable[str], fraction: float) -> set[str]:
    """A fixed choice of documents to hold back: the first ``fraction`` by a hash of their names."""
    ordered = sorted(names, key=lambda name: hashlib.sha256(f"needle:{name}".encode()).hexdigest())
    return set(ordered[: round(len(ordered) * fraction)])


def load_squad(path: Path, holdout: float = DEFAULT_HOLDOUT) -> AnswerDataset:
    """Read a SQuAD 1.1 file: one text document per article, ``holdout`` of them left out of the corpus."""
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise NeedleError(f"{path}: not a SQuAD file ({type(error).__name__})") from None
    texts: dict[str, str] = {}
    questions: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for number, article in enumerate(articles):
        context = "\n\n".join(paragraph["context"] for paragraph in article["paragraphs"])
        ident = str(article.get("id") or article["paragraphs"][0].get("document_id") or number)
        name = f"{re.sub(r'[^A-Za-z0-9_-]+', '-', ident)}.txt"
        title = str(article.get("title") or "").strip()
        texts[name] = f"{title}\n\n{context}" if title and not context.startswith(title) else context
        questions[name] = [
            (qa["question"], tuple(dict.fromkeys(answer["text"].strip() for answer in qa["answers"])))
            for paragraph in article["paragraphs"]
            for qa in paragraph["qas"]
            if qa.get("answers") and not qa.get("is_impossible")
        ]
    held = _held_out(texts, holdout)
    cases = [
        AnswerCase(
            question=question,
            gold=() if name in held else gold,
            source=None if name in held else name,
            unanswerable=name in held,
            language=query_language(question),
        )
        for name, pairs in questions.items()
        for question, gold in pairs
    ]
    documents = {name: text.encode("utf-8") for name, text in texts.items() if name not in held}
    return AnswerDataset(path.stem, documents, cases)


def load_question_file(path: Path, corpus: Path) -> AnswerDataset:
    """Read Needle's JSON-lines question file; the corpus is every supported file in ``corpus``."""
    from pipelines.indexing.sources import expand_paths

    if not corpus.is_dir():
        raise NeedleError(f"corpus folder {corpus} not found (give it with --corpus)")
    documents = {file.name: file.read_bytes() for file in expand_paths([corpus])}
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            question = str(record["question"])
        except (ValueError, KeyError, TypeError):
            raise NeedleError(f"{path}:{number}: expected a JSON object with a 'question'") from None
        unanswerable = bool(record.get("unanswerable"))
        gold = tuple(str(item) for item in record.get("gold") or ())
        source = record.get("source")
        if not unanswerable and (not gold or not source):
            raise NeedleError(f"{path}:{number}: an answerable question needs 'gold' and 'source'")
        if source and source not in documents:
            raise NeedleError(f"{path}:{number}: source {source!r} is not in {corpus}")
        cases.append(
            AnswerCase(
                question=question,
                gold=gold,
                source=source,
                unanswerable=unanswerable,
                language=str(record.get("language") or query_language(question)),
            )
        )
    return AnswerDataset(path.stem, documents, cases)


def load_answer_dataset(path: str | Path, corpus: str | Path | None = None) -> AnswerDataset:
    """A SQuAD ``.json`` file, or a ``.jsonl`` question file with its ``corpus`` folder."""
    path = Path(path)
    if not path.is_file():
        raise NeedleError(f"{path} not found")
    if path.suffix == ".jsonl":
        return load_question_file(path, Path(corpus) if corpus else path.parent)
    return load_squad(path)


def normalize(text: str) -> str:
    """Case-, width- and whitespace-insensitive form for "the answer contains the gold string"."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().replace("*", "").split())


def contains_gold(answer: str, gold: Iterable[str]) -> bool:
    normalized = normalize(answer)
    compact = normalized.replace(" ", "")
    return any(normalize(item) in normalized or normalize(item).replace(" ", "") in compact for item in gold)


def sample_cases(cases: list[AnswerCase], limit: int | None) -> list[AnswerCase]:
    """At most ``limit`` cases, a fixed hash-ordered choice that keeps the answerable/unanswerable mix."""
    if not limit or limit >= len(cases):
        return cases
    ordered = sorted(cases, key=lambda case: hashlib.sha256(case.question.encode("utf-8")).hexdigest())
    unanswerable = [case for case in ordered if case.unanswerable]
    share = round(limit * len(unanswerable) / len(cases))
    chosen = unanswerable[:share] + [case for case in ordered if not case.unanswerable][: limit - share]
    return [case for case in cases if case in set(chosen)]


def answer_case(service: Any, case: AnswerCase) -> CaseResult:
    """Ask one question through the service and judge the answer."""
    started = time.perf_counter()
    answer = service.ask(case.question, origin="eval", viewer=ADMIN)
    ms = (time.perf_counter() - started) * 1000
    cited = [citation.file_name for citation in answer.citations]
    found = bool(answer.found)
    return CaseResult(
        case=case,
        found=found,
        correct=(not found) if case.unanswerable else (found and contains_gold(answer.text, case.gold)),
        cited_gold=bool(case.source) and found and case.source in cited,
        ms=ms,
        answer=answer.text,
        cited_files=cited,
        answerability=answer.answerability,
    )


def passed_gate(result: CaseResult) -> bool:
    """Whether the question got past the answerability gate to the answerer (the extract, or the LLM)."""
    return bool(result.answerability.get("answerable"))


def summarize(results: list[CaseResult]) -> dict[str, Any]:
    """The four figures of one group of results, with counts, as fractions rounded to 4 places, and how
    many questions the gate let through to the answerer (``reached``: answerable ones that got there;
    ``stopped``: unanswerable ones it kept from it)."""
    answerable = [result for result in results if not result.case.unanswerable]
    unanswerable = [result for result in results if result.case.unanswerable]

    def share(items: list[CaseResult], test: Callable[[CaseResult], bool]) -> float | None:
        return round(sum(1 for item in items if test(item)) / len(items), 4) if items else None

    latencies = [result.ms for result in results]
    return {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "accuracy": share(answerable, lambda r: r.correct),
        "citation_rate": share(answerable, lambda r: r.cited_gold),
        "abstention": share(unanswerable, lambda r: not r.found),
        "false_abstention": share(answerable, lambda r: not r.found),
        "reached": sum(1 for result in answerable if passed_gate(result)),
        "reach": share(answerable, passed_gate),
        "stopped": sum(1 for result in unanswerable if not passed_gate(result)),
        "stop": share(unanswerable, lambda r: not passed_gate(r)),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1) if latencies else None,
            "p95": round(percentile(latencies, 0.95), 1) if latencies else None,
        },
    }


def run_answer_eval(
    dataset: AnswerDataset,
    settings: Settings,
    *,
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Index ``dataset`` into a fresh store, ask every (sampled) question, and report per language."""
    from pipelines.service.facade import NeedleService

    say = progress or (lambda message: None)
    cases = sample_cases(dataset.cases, limit)
    with tempfile.TemporaryDirectory(prefix="needle-eval-answers-") as scratch:
        # A fresh store, but the user's embedding cache: a re-run does not encode the corpus again.
        service = NeedleService(
            replace_settings(settings, data_dir=Path(scratch), store="memory"),
            embedding_cache_path=settings.data_dir / "embedding-cache.sqlite3",
        )
        try:
            say(f"indexing {len(dataset.documents)} documents")
            started = time.perf_counter()
            for number, (name, data) in enumerate(sorted(dataset.documents.items()), start=1):
                result = service.ingest_bytes(name, data)
                if result.status == "rejected":
                    raise NeedleError(f"{name} was rejected: {result.reason}")
                if number % 50 == 0:
                    say(f"indexed {number}/{len(dataset.documents)} documents")
            index_seconds = time.perf_counter() - started
            say(f"asking {len(cases)} questions")
            results = []
            for number, case in enumerate(cases, start=1):
                results.append(answer_case(service, case))
                if number % 100 == 0:
                    say(f"answered {number}/{len(cases)}")
        finally:
            service.close()
    languages = sorted({result.case.language for result in results})
    return {
        "dataset": dataset.name,
        "mode": "extract" if settings.llm_api == "none" else f"llm:{settings.llm_api}",
        "answerability_threshold": settings.answerability_threshold,
        "documents": len(dataset.documents),
        "index_seconds": round(index_seconds, 1),
        "overall": summarize(results),
        "languages": {
            language: summarize([result for result in results if result.case.language == language])
            for language in languages
        },
        "cases": [result.to_dict() for result in results],
    }
