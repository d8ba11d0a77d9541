"""Generated policy documents of varied sizes, for the crash and load tests."""

from __future__ import annotations

from pathlib import Path

TOPICS = ("vacation", "travel", "laptops", "security", "benefits", "parking", "training", "payroll")


def write_corpus(folder: Path, files: int, prefix: str = "policy") -> list[Path]:
    """``files`` Markdown documents of 2 to 30 chunks each (different sizes, so kills land in big ones).

    The ``prefix`` is in every paragraph, not only in the file names: the embedding cache is keyed by
    text, so a second corpus with the same text (the load tests run two ingests on one service) would be
    read from the cache in seconds instead of being encoded, and would end before the questions it is
    meant to overlap."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(files):
        topic = TOPICS[index % len(TOPICS)]
        paragraphs = 8 + (index * 7) % 110
        body = "\n\n".join(
            f"Rule {index}.{number} ({prefix}) on {topic}: employees in team {number % 9} follow procedure "
            f"{index * 100 + number}, which the {topic} office reviews every {number % 12 + 1} months. "
            f"Questions about {topic} rule {number} go to the {topic} desk before the end of the quarter."
            for number in range(paragraphs)
        )
        path = folder / f"{prefix}-{index:03d}-{topic}.md"
        path.write_text(f"# {topic.title()} policy {index}\n\n{body}\n", encoding="utf-8")
        paths.append(path)
    return paths
