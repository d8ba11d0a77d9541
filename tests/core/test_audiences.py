"""Restricted sources never reach people outside their audience: the leak test of the core.

A small corpus of restricted documents (board minutes for one channel, salary bands for an HR user group,
HR case notes for one person) sits beside public handbook documents. Every question whose answer is only
in a restricted document is asked by every kind of viewer; for each answer the text, the citations, the
"might be related" list and every list in the trace (BM25, dense, fused, passages, prompt) are checked.
The filter is applied in the store query, so nothing restricted is ever retrieved for the wrong viewer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.base.errors import NeedleError
from pipelines.records.audience import ADMIN, PUBLIC, Viewer, audience_filter, parse_audience
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK, make_settings

RESTRICTED = Path(__file__).parent.parent / "data" / "restricted"

#: source file -> (audience, distinctive strings only that document contains, questions only it answers)
SECRETS = {
    "board-minutes-2026-q3.md": (
        "channel:C0BOARD",
        ["Globex", "Heron", "14.5 million", "Lisbon"],
        [
            "How much is Globex Robotics being acquired for?",
            "What is the codename of the acquisition?",
            "Is the Lisbon warehouse closing?",
        ],
    ),
    "salary-bands-2027.md": (
        "usergroup:S0HR",
        ["68,000", "84,000", "101,000", "4.2%"],
        ["What does engineering band E4 pay?", "What is the salary review budget for 2027?"],
    ),
    "hr-case-notes.md": (
        "user:U0DANA",
        ["2026-117", "Marta Quinn", "grievance"],
        ["When is the investigation meeting about the overtime grievance?", "Who is Marta Quinn?"],
    ),
}

VIEWERS: dict[str, tuple[Viewer, set[str]]] = {
    # name: (viewer, the restricted files it may see)
    "anyone (no viewer given)": (PUBLIC, set()),
    "public channel": (Viewer(user_id="U0EVE", channel_id="C0GENERAL"), set()),
    "board channel": (Viewer(user_id="U0EVE", channel_id="C0BOARD"), {"board-minutes-2026-q3.md"}),
    "HR member in a public channel": (
        Viewer(user_id="U0EVE", channel_id="C0GENERAL", usergroups=frozenset({"S0HR"})),
        set(),
    ),
    "HR member, privately": (
        Viewer(user_id="U0EVE", private=True, usergroups=frozenset({"S0HR"})),
        {"salary-bands-2027.md"},
    ),
    "board channel member, privately": (
        Viewer(user_id="U0BOB", private=True, channels=frozenset({"C0BOARD"})),
        {"board-minutes-2026-q3.md"},
    ),
    "Dana, privately": (Viewer(user_id="U0DANA", private=True), {"hr-case-notes.md"}),
    "Dana in the board channel": (
        Viewer(user_id="U0DANA", channel_id="C0BOARD"),
        {"board-minutes-2026-q3.md"},
    ),
    "someone else, privately": (Viewer(user_id="U0ZED", private=True), set()),
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeedleService]:
    service = NeedleService(make_settings(tmp_path_factory.mktemp("audiences")))
    for name in ("leave-policy.md", "benefits-overview.docx", "code-of-conduct.pdf"):
        assert service.ingest_file(HANDBOOK / name).status == "indexed"
    for name, (audience, _, _) in SECRETS.items():
        result = service.ingest_file(RESTRICTED / name, audience=audience, uploaded_by="hr-admin")
        assert result.status == "indexed", result
    yield service
    service.close()


def _everything_shown(service: NeedleService, answer) -> tuple[str, set[str]]:
    """All text a person or an admin could see of this answer, and every source id in it."""
    trace = service.get_trace(answer.trace_id)
    assert trace is not None
    lists = [trace[name] or [] for name in ("bm25", "dense", "fused", "reranked")]
    entries = [entry for ranked in lists for entry in ranked]
    sources = {entry["source_id"] for entry in entries}
    sources |= {passage.meta["source_id"] for passage in answer.passages}
    sources |= {citation.source_id for citation in (*answer.citations, *answer.related)}
    text = "\n".join(
        [
            answer.text,
            trace["prompt"] or "",
            *(entry["preview"] for entry in entries),
            *(passage.content for passage in answer.passages),
            *(citation.title for citation in (*answer.citations, *answer.related)),
        ]
    )
    return text, sources


@pytest.mark.slow  # every viewer against every source (about 15 s); .ci/run runs it after the suite
def test_no_viewer_sees_what_is_not_shared_with_them(service: NeedleService) -> None:
    source_ids = {source.file_name: source.source_id for source in service.list_sources()}
    probes = 0
    for viewer_name, (viewer, allowed) in VIEWERS.items():
        for file_name, (_, secrets, questions) in SECRETS.items():
            for question in questions:
                answer = service.ask(question, viewer=viewer, origin="test")
                text, sources = _everything_shown(service, answer)
                probes += 1
                where = f"{viewer_name} asking {question!r}"
                if file_name in allowed:
                    cited = {citation.file_name for citation in answer.citations}
                    assert source_ids[file_name] in sources, f"{where}: the allowed source was not retrieved"
                    assert not answer.found or file_name in cited, where
                    continue
                assert source_ids[file_name] not in sources, f"{where}: leaked {file_name}"
                # The prompt repeats the question, so a secret the asker typed is not a leak.
                leaked = [secret for secret in secrets if secret in text and secret not in question]
                assert leaked == [], f"{where}: leaked {leaked}"
    assert probes == len(VIEWERS) * sum(len(questions) for _, _, questions in SECRETS.values())


def test_answers_cite_the_restricted_source_for_its_audience(service: NeedleService) -> None:
    """The filter must not hide a source from the people it is shared with (or the test above proves
    nothing)."""
    board = service.ask("How much is Globex Robotics being acquired for?", viewer=VIEWERS["board channel"][0])
    assert board.found and board.citations[0].file_name == "board-minutes-2026-q3.md"
    assert "14.5 million" in board.text
    salary = service.ask("What does engineering band E4 pay?", viewer=VIEWERS["HR member, privately"][0])
    assert salary.found and "84,000" in salary.text


def test_sources_are_listed_only_to_their_audience(service: NeedleService) -> None:
    everything = {source.file_name for source in service.list_sources()}
    assert set(SECRETS) <= everything  # admins see all
    public = {source.file_name for source in service.list_sources(PUBLIC)}
    assert public.isdisjoint(SECRETS)
    dana = {source.file_name for source in service.list_sources(VIEWERS["Dana, privately"][0])}
    assert dana & set(SECRETS) == {"hr-case-notes.md"}


def test_changing_an_audience_needs_no_reindex_and_applies_at_once(service: NeedleService) -> None:
    source = next(s for s in service.list_sources() if s.file_name == "salary-bands-2027.md")
    chunk_ids = {passage.id for passage in service.source_chunks(source.source_id)}
    finance = Viewer(user_id="U0FIN", channel_id="C0FINANCE")
    question = "What does engineering band E4 pay?"
    assert source.source_id not in {c.source_id for c in service.ask(question, viewer=finance).citations}

    changed = service.set_source_audience(source.source_id, "usergroup:S0HR,channel:C0FINANCE", actor="ann")
    try:
        assert changed.audience == ["channel:C0FINANCE", "usergroup:S0HR"]
        assert {passage.id for passage in service.source_chunks(source.source_id)} == chunk_ids
        answer = service.ask(question, viewer=finance)
        assert answer.found and answer.citations[0].source_id == source.source_id
    finally:
        service.set_source_audience(source.source_id, "usergroup:S0HR", actor="ann")
    assert source.source_id not in {c.source_id for c in service.ask(question, viewer=finance).citations}

    entries = service.audit.entries(action="source.audience", target=f"source {source.source_id}")
    assert [e.after for e in entries][:2] == [
        {"audience": ["usergroup:S0HR"]},
        {"audience": ["channel:C0FINANCE", "usergroup:S0HR"]},
    ]


def test_reuploading_keeps_the_audience_unless_given(service: NeedleService, tmp_path: Path) -> None:
    changed = tmp_path / "hr-case-notes.md"
    changed.write_text((RESTRICTED / "hr-case-notes.md").read_text() + "\nUpdate: the meeting moved.\n")
    result = service.ingest_file(changed, uploaded_by="hr-admin")
    assert result.status == "indexed"
    source = next(s for s in service.list_sources() if s.source_id == result.source_id)
    assert source.audience == ["user:U0DANA"]
    uploads = service.audit.entries(action="source.upload", target=f"source {result.source_id}")
    assert uploads[0].actor == "hr-admin" and uploads[0].before is not None
    restored = service.ingest_file(RESTRICTED / "hr-case-notes.md", uploaded_by="hr-admin")
    assert restored.status == "indexed"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ["everyone"]),
        ("", ["everyone"]),
        ("everyone", ["everyone"]),
        (" user:U1AB, channel:C0X1 ,user:U1AB", ["channel:C0X1", "user:U1AB"]),
        (["usergroup:S0HR"], ["usergroup:S0HR"]),
    ],
)
def test_audiences_are_parsed(raw, expected) -> None:
    assert parse_audience(raw) == expected


@pytest.mark.parametrize("raw", ["hr", "channel:general", "everyone,user:U1AB", "group:S1"])
def test_bad_audiences_are_refused_before_anything_is_indexed(
    raw: str, service: NeedleService, tmp_path: Path
) -> None:
    with pytest.raises(NeedleError, match="audience"):
        parse_audience(raw)
    before = len(service.list_sources())
    new_file = tmp_path / "new-policy.md"
    new_file.write_text("# New policy\n\nA rule.\n")
    with pytest.raises(NeedleError):
        service.ingest_file(new_file, audience=raw)
    assert len(service.list_sources()) == before


def test_the_filter_reaches_elasticsearch_as_a_query_clause() -> None:
    """Haystack's Elasticsearch store turns the audience filter into a ``bool`` filter of the search
    request, so Elasticsearch applies it inside BM25 and kNN alike."""
    from haystack_integrations.document_stores.elasticsearch.filters import _normalize_filters

    viewer = Viewer(user_id="U0EVE", private=True, usergroups=frozenset({"S0HR"}))
    clause = _normalize_filters(audience_filter(viewer))
    should = clause["bool"]["should"]
    assert {"terms": {"audience": ["everyone", "user:U0EVE", "usergroup:S0HR"]}} in should
    assert {"bool": {"must_not": {"exists": {"field": "audience"}}}} in should
    assert audience_filter(ADMIN) is None


#: Who may see each restricted document, used as the "view as" a console viewer tries and as the insider
#: whose answer (a trace) the console viewer must not read.
INSIDERS = {
    "board-minutes-2026-q3.md": ("", "C0BOARD", VIEWERS["board channel"][0]),
    "salary-bands-2027.md": ("U0EVE", "", VIEWERS["HR member, privately"][0]),
    "hr-case-notes.md": ("U0DANA", "", VIEWERS["Dana, privately"][0]),
}


@pytest.mark.slow  # the debugger for every viewer (about 12 s); .ci/run runs it after the suite
def test_the_console_debugger_as_a_viewer_leaks_nothing(service: NeedleService) -> None:
    """Probes through the admin console's real endpoints, signed in as an account with the ``viewer``
    role (issue 12: a viewer sees what everyone may see). For every question only a restricted document
    answers: the debugger's answer and every list, prompt and setting it shows hold nothing restricted;
    "view as" someone inside the audience is refused; the insider's own answer (its trace, with a 👎) is
    not listed, cannot be opened or re-run, and is missing from the feedback list. For every restricted
    document: its chunks and "find in every list" are refused as if it did not exist."""
    from gradio_client import Client

    from admin.face import launch

    password = "a long enough password"
    if service.accounts.get("vera") is None:
        service.accounts.add("vera", password, "viewer", actor="test")
    sources = {source.file_name: source for source in service.list_sources()}
    knobs = ([], [], 200, 200, 5, "weighted", 60, 1.0, 0.75, False)
    blocks = launch(service, port=None)
    probes = 0
    try:
        client = Client(blocks.local_url, auth=("vera", password), verbose=False)
        public_trace = None
        for file_name, (_, secrets, questions) in SECRETS.items():
            view_user, view_channel, insider = INSIDERS[file_name]
            restricted = sources[file_name]
            tells = [restricted.source_id, restricted.title, restricted.file_name]
            for question in questions:
                out = client.predict(question, *knobs, "", "", api_name="/debug_query")
                public_trace = out[0]
                shown = str(out)
                leaked = [s for s in [*secrets, *tells] if s in shown and s not in question]
                assert leaked == [], f"the debugger showed a viewer {leaked} for {question!r}"
                probes += 1

                with pytest.raises(Exception, match="View as"):
                    client.predict(question, *knobs, view_user, view_channel, api_name="/debug_query")
                probes += 1

                theirs = service.ask(question, viewer=insider, origin="slack")
                assert restricted.source_id in {c.source_id for c in theirs.citations}  # could leak
                service.record_feedback(theirs.trace_id, "down", user_id="U0INSIDER", reason="probe")
                for endpoint in ("/open_trace", "/rerun_trace"):
                    with pytest.raises(Exception, match="not everyone may see"):
                        client.predict(theirs.trace_id, api_name=endpoint)
                listed = str(client.predict("all", 1000, api_name="/recent_traces"))
                rated = str(client.predict("all", "", api_name="/feedback"))
                assert theirs.trace_id not in listed and theirs.trace_id not in rated
                probes += 1
            with pytest.raises(Exception, match="no source with id"):
                client.predict(restricted.source_id, "", api_name="/source_chunks")
            with pytest.raises(Exception, match="no source or chunk"):
                client.predict(public_trace, restricted.source_id, api_name="/find_in_lists")
            probes += 1
        client.close()
    finally:
        blocks.close()
    questions = sum(len(questions) for _, _, questions in SECRETS.values())
    assert probes == 3 * questions + len(SECRETS) == 24
    print(f"\nConsole leak probes (debugger as a viewer): {probes} probes, 0 leaks")
