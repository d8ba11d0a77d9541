"""Verified answers through the real service and the ``needle`` command: given first for the same
meaning, within their audience, never past review; the other sources follow."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.records.audience import PUBLIC, Viewer
from pipelines.service import NeedleService
from pipelines.stores.traces import SqliteTraceStore
from tests.conftest import HANDBOOK

pytestmark = pytest.mark.slow  # a service, an ingest and a dozen answers

DOG_ANSWER = "Dogs are welcome on Fridays if they are registered with Facilities beforehand."


def test_a_verified_answer_is_given_first_with_its_own_citation_within_its_audience(
    service_factory: Callable[..., NeedleService],
) -> None:
    service = service_factory()
    service.ingest_file(HANDBOOK / "office-facilities.html")
    item = service.knowledge.add_verified(
        "Can I bring my dog to the office?",
        DOG_ANSWER,
        "U0EXPERT",
        phrasings=["Are pets allowed at work?"],
        actor="alice",
    )
    sources = {source.source_id: source for source in service.list_sources()}
    assert sources[item.source_id].uploaded_by == "U0EXPERT"  # a curated source in the same store
    assert "verified" in sources[item.source_id].tags

    answer = service.ask("Is it okay if my dog comes with me to the office?")
    assert answer.verified == {"id": item.answer_id, "expert": "U0EXPERT", "date": item.verified_on}
    assert answer.text.startswith(DOG_ANSWER)
    assert f"Verified by @U0EXPERT on {item.verified_on}" in answer.text
    assert answer.citations[0].source_id == item.source_id and answer.citations[0].number == 1
    assert [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert item.source_id not in [c.source_id for c in answer.citations[1:]]
    assert answer.to_dict()["verified"]["id"] == item.answer_id
    trace = service.get_trace(answer.trace_id)
    assert trace["verified"]["id"] == item.answer_id and trace["answer"]["text"] == answer.text
    assert answer.kind == trace["answer"]["kind"] == "verified" and answer.found
    gaps = {t for topic in service.knowledge.gaps(3600) for t in topic.trace_ids}
    assert answer.trace_id not in gaps  # answered from a verified answer: no longer a gap

    unrelated = service.ask("What time does the office building open?")
    assert unrelated.verified is None and "Verified by" not in unrelated.text

    # Restricted to one channel: an answer posted elsewhere is not given from it.
    service.knowledge.edit_verified(item.answer_id, audience="channel:C0OFFICE1", actor="alice")
    assert service.ask("Can I bring my dog to work?", viewer=PUBLIC).verified is None
    in_channel = service.ask("Can I bring my dog to work?", viewer=Viewer(channel_id="C0OFFICE1"))
    assert in_channel.verified is not None

    # Expired by hand, then renewed with a new review-by date.
    service.knowledge.expire_verified(item.answer_id, actor="alice")
    assert service.ask("Can I bring my dog to work?", viewer=Viewer(channel_id="C0OFFICE1")).verified is None
    service.knowledge.edit_verified(
        item.answer_id, review_by=dt.date.today() + dt.timedelta(days=90), actor="bob"
    )
    assert (
        service.ask("Can I bring my dog to work?", viewer=Viewer(channel_id="C0OFFICE1")).verified is not None
    )

    service.knowledge.remove_verified(item.answer_id, actor="carol")
    assert item.source_id not in {source.source_id for source in service.list_sources()}
    actions = [
        entry.action for entry in service.audit.entries() if entry.target == f"verified {item.answer_id}"
    ]
    assert sorted(actions) == sorted(
        ["verified.add", "verified.edit", "verified.expire", "verified.edit", "verified.remove"]
    )


def test_needle_verified_commands_and_ask_json(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ingest", str(HANDBOOK / "office-facilities.html")]) == 0
    capsys.readouterr()
    add = ["verified", "add", "--question", "Can I bring my dog to the office?", "--answer", DOG_ANSWER]
    assert cli.main([*add, "--by", "U0EXPERT", "--also", "Are pets allowed at work?", "--json"]) == 0
    item = json.loads(capsys.readouterr().out)[0]
    assert item["expert"] == "U0EXPERT" and item["current"] is True

    assert cli.main(["ask", "--json", "Is it okay if my dog comes with me to the office?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["verified"] == {"id": item["answer_id"], "expert": "U0EXPERT", "date": item["verified_on"]}
    assert cli.main(["ask", "--json", "What time does the office building open?"]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is None

    assert cli.main(["verified", "list", "--json"]) == 0
    assert [row["answer_id"] for row in json.loads(capsys.readouterr().out)] == [item["answer_id"]]
    assert cli.main(["verified", "edit", item["answer_id"], "--answer", "Fridays only.", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["answer"] == "Fridays only."
    assert cli.main(["verified", "show", item["answer_id"]]) == 0
    assert "Fridays only." in capsys.readouterr().out
    assert cli.main(["verified", "expire", item["answer_id"]]) == 0
    assert "expired" in capsys.readouterr().out
    assert cli.main(["ask", "--json", "Is it okay if my dog comes with me to the office?"]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is None
    assert cli.main(["verified", "remove", item["answer_id"]]) == 0
    capsys.readouterr()

    assert cli.main(["verified", "show", item["answer_id"]]) == 1
    assert "no verified answer" in capsys.readouterr().err
    assert cli.main(["verified", "add", "--question", "Q?"]) == 1
    assert "--answer" in capsys.readouterr().err
    assert cli.main(["verified", "add", "--question", "Q?", "--answer", "A", "--review-by", "soon"]) == 1
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_needle_gaps_json_and_csv(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ingest", str(HANDBOOK / "office-facilities.html")]) == 0
    capsys.readouterr()
    traces = SqliteTraceStore(data_dir / "traces.sqlite3")
    asked = []
    for question in ("Can I bring my dog to the office?", "Are pets allowed at work?"):
        assert cli.main(["ask", "--json", question]) == 0
        answer = json.loads(capsys.readouterr().out)
        if answer["found"]:  # given anyway: somebody says 👎, so it is a gap either way
            traces.add_feedback(answer["trace_id"], "down", user_id="U0ANN")
        asked.append(answer["trace_id"])
    traces.close()
    assert cli.main(["gaps", "--json"]) == 0
    topics = json.loads(capsys.readouterr().out)
    assert sorted(t for topic in topics for t in topic["trace_ids"]) == sorted(asked)
    assert len(topics) == 1 and topics[0]["count"] == 2
    assert topics[0]["trace_urls"][0].endswith(f"?trace={topics[0]['trace_ids'][0]}")
    assert cli.main(["gaps", "--csv", "--since", "1d"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:4] == ["topic", "people", "count", "examples"] and rows[1][2] == "2"
    # Freshness: an owner and a review-by date that has passed make the source stale.
    assert cli.main(["sources", "--json"]) == 0
    [source] = json.loads(capsys.readouterr().out)
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    assert cli.main(["owner", source["source_id"], "U0OWNER", "--review-by", yesterday, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["owner"] == "U0OWNER"
    assert cli.main(["stale", "--json"]) == 0
    [stale] = json.loads(capsys.readouterr().out)
    assert (stale["source_id"], stale["review_by"]) == (source["source_id"], yesterday)
    assert cli.main(["ask", "--json", "What time does the office building open?"]) == 0
    cited = json.loads(capsys.readouterr().out)["citations"]
    assert cited and cited[0]["date_label"] == f"last reviewed {stale['last_reviewed']}"
    assert cli.main(["owner", "no-such-source", "U0OWNER"]) == 1
    assert "no source" in capsys.readouterr().err

    assert cli.main(["usage", "--since", "1d", "--json"]) == 0
    usage = json.loads(capsys.readouterr().out)
    assert usage["questions"] == 3 and usage["answered"] + usage["abstained"] == 3
    assert {row["question"] for row in usage["top_questions"]} == {
        "Can I bring my dog to the office?",
        "Are pets allowed at work?",
        "What time does the office building open?",
    }
    assert cli.main(["gaps", "--since", "sometime"]) == 1
    assert "not a period" in capsys.readouterr().err
