"""``needle eval``: a BEIR-format folder through the real indexing and retrieval pipelines, scored right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.base.errors import NeedleError
from pipelines.lab.evaluation import load_beir, score_runs

# A miniature BEIR dataset: empty titles, a Chinese document and Chinese question, a header in the qrels.
CORPUS = [
    {
        "_id": "d1",
        "title": "Glacier retreat",
        "text": "Alpine glaciers lost a third of their ice volume since 1980.",
    },
    {
        "_id": "d2",
        "title": "",
        "text": "Honeybee colonies collapse when exposed to neonicotinoid pesticides.",
    },
    {
        "_id": "d3",
        "title": "Sourdough",
        "text": "Lactobacilli in sourdough starters acidify the dough and add flavour.",
    },
    {"_id": "d4", "title": "", "text": "Octopuses can change the colour of their skin within milliseconds."},
    {"_id": "d5", "title": "大熊猫", "text": "大熊猫主要以竹子为食，每天要吃十几公斤的竹子。"},
    {
        "_id": "d6",
        "title": "Tides",
        "text": "The gravitational pull of the moon raises ocean tides twice a day.",
    },
]
QUERIES = [
    {"_id": "q1", "text": "How much ice have alpine glaciers lost?"},
    {"_id": "q2", "text": "Do neonicotinoid pesticides harm honeybee colonies?"},
    {"_id": "q3", "text": "大熊猫吃什么？"},
    {"_id": "q4", "text": "What causes ocean tides?"},
    {"_id": "q5", "text": "A query nobody judged"},
]
QRELS = {"q1": "d1", "q2": "d2", "q3": "d5", "q4": "d6"}


def write_beir(folder: Path, split: str = "test") -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in CORPUS) + "\n", encoding="utf-8"
    )
    (folder / "queries.jsonl").write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in QUERIES) + "\n", encoding="utf-8"
    )
    lines = ["query-id\tcorpus-id\tscore"] + [f"{qid}\t{doc}\t1" for qid, doc in QRELS.items()]
    (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_load_beir_keeps_judged_queries_and_skips_the_header(tmp_path: Path) -> None:
    dataset = load_beir(write_beir(tmp_path / "mini"), "test")
    assert dataset.name == "mini"
    assert sorted(dataset.queries) == ["q1", "q2", "q3", "q4"]  # q5 has no judgement
    assert dataset.qrels["q3"] == {"d5": 1}
    assert dataset.corpus["d2"] == ("", CORPUS[1]["text"])


def test_load_beir_names_what_is_wrong(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "mini")
    with pytest.raises(NeedleError, match=r"qrels/train\.tsv not found"):
        load_beir(folder, "train")
    with (folder / "queries.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    with pytest.raises(NeedleError, match=r"queries\.jsonl:6: not JSON"):
        load_beir(folder, "test")


def test_scores_match_hand_computed_values() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d9": 1}}
    runs = {"q1": {"d2": 1.0, "d1": 0.5}, "q2": {"d3": 1.0}}  # q1: relevant at rank 2; q2: missed
    scores = score_runs(qrels, runs)
    # nDCG@10 of q1 = 1 / log2(3); q2 scores 0; the mean is over both judged queries.
    assert scores["ndcg@10"] == pytest.approx(round((1 / 1.5849625) / 2, 4), abs=1e-4)
    assert scores["mrr@10"] == 0.25
    assert scores["recall@100"] == 0.5


def test_eval_command_prints_the_documented_json_and_reuses_embeddings(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_beir(tmp_path / "mini")
    assert cli.main(["eval", "--dataset", str(folder), "--split", "test", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"bm25", "dense", "fused", "reranked", "index_seconds", "chunks_per_second", "query_ms"} <= set(
        report
    )
    assert report["reranked"] is None  # no reranker configured by default
    assert set(report["query_ms"]) == {"p50", "p95"} and report["query_ms"]["p50"] > 0
    for leg in ("bm25", "dense", "fused"):
        assert set(report[leg]) == {"ndcg@10", "recall@100", "mrr@10"}
    # Every judged question names its document plainly: BM25 and the fused default find each one first,
    # the Chinese question included (the English embedder is left out of fusion for it).
    assert report["bm25"] == {"ndcg@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0}
    assert report["fused"] == {"ndcg@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0}
    assert report["queries"] == 4 and report["documents"] == 6
    assert report["chunks_encoded"] == report["chunks"] == 6

    saved = tmp_path / "reports" / "mini.json"
    assert cli.main(["eval", "--dataset", str(folder), "--json", "--output", str(saved)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert json.loads(saved.read_text(encoding="utf-8")) == again  # --output saves what --json prints
    assert again["chunks_encoded"] == 0  # the corpus embeddings came from the cache
    assert again["fused"] == report["fused"]


def test_eval_of_a_folder_that_is_not_beir_fails_cleanly(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["eval", "--dataset", str(tmp_path / "nowhere")]) == 1
    assert "corpus.jsonl not found" in capsys.readouterr().err
