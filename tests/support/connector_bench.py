"""The web connector's benchmark, shared by ``scripts/bench_connectors.py`` (2,000 pages) and a slow test
(a few dozen): a generated site synced three times into a real embedded store with the bundled model.

The site: a home page, section pages of twenty pages each, and content pages that each state one fact
no other page states ("part number QX-00417 ... torque limit of 58 newton metres"). A deletion removes a
content page and its link from its section page, as a site's editor would: that section page is one of
the changed pages. So "20 changed and 10 deleted" means ten content pages edited, ten deleted, and the
ten section pages that linked to the deleted ones edited.

Syncs: the first; a re-sync after the changes; a re-sync with nothing changed. For each: wall time, the
requests the site answered by status, the bodies it sent (200s other than robots.txt), what the sync
indexed and removed, and the document store's writes. Then whether the deleted page's fact is still
answered from it, asked the way ``needle ask`` asks (in a separate process when ``ask_cli``).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.base.settings import load_settings
from pipelines.service import NeedleService
from tests.support.local_site import LocalSite

SECTION_SIZE = 20
ROOT = Path(__file__).resolve().parents[2]
_FILLER = (
    "This page belongs to the engineering handbook of Acme Widgets.",
    "Check the revision history before you order spare parts.",
    "Questions about this part go to the product team's channel.",
    "Safety data sheets are kept with the warehouse manager.",
    "Parts shipped before the last audit keep their original labels.",
    "The quality team reviews every change to this page once a quarter.",
    "Field engineers carry a printed copy of the assembly notes.",
    "Returns are accepted within thirty days with the original packaging.",
)
_CITIES = ("Dublin", "Lyon", "Porto", "Gdansk", "Tampere", "Brno", "Cork", "Turin", "Malmo", "Ghent")
_PARTS = ("valve", "bearing", "gasket", "sprocket", "bracket", "coupling", "impeller", "flange")


def part_code(number: int) -> str:
    return f"QX-{number:05d}"


def fact(number: int, revision: int = 0) -> str:
    rng = random.Random(number)
    torque = rng.randint(20, 95) + revision
    return (
        f"Part number {part_code(number)} is the {rng.choice(_PARTS)} made at the {rng.choice(_CITIES)} "
        f"plant; its torque limit is {torque} newton metres."
    )


def question(number: int) -> str:
    return f"What is the torque limit of part number {part_code(number)}?"


@dataclass
class GeneratedSite:
    """A site of ``pages`` HTML pages in all (home, sections and content pages) under ``/site/``."""

    site: LocalSite
    sections: list[list[int]]
    revisions: dict[int, int] = field(default_factory=dict)

    @staticmethod
    def path(number: int) -> str:
        return f"/site/p{number:05d}.html"

    @staticmethod
    def section_path(section: int) -> str:
        return f"/site/s{section:03d}.html"

    def put_content(self, number: int) -> None:
        rng = random.Random(number * 7 + self.revisions.get(number, 0))
        text = " ".join([fact(number, self.revisions.get(number, 0)), *rng.sample(_FILLER, 5)])
        section = next(index for index, members in enumerate(self.sections) if number in members)
        links = ["/site/", self.section_path(section)]
        self.site.page(self.path(number), f"Part {part_code(number)}", text, links)

    def put_section(self, section: int) -> None:
        links = ["/site/", *(self.path(number) for number in self.sections[section])]
        self.site.page(
            self.section_path(section), f"Section {section}", f"Parts of section {section}.", links
        )


def generate_site(pages: int) -> GeneratedSite:
    if pages < 3:
        raise ValueError("a generated site has at least 3 pages")
    section_count = max(1, (pages - 1) // (SECTION_SIZE + 1))
    content = pages - 1 - section_count
    numbers = list(range(content))
    sections = [numbers[start::section_count] for start in range(section_count)]
    generated = GeneratedSite(LocalSite(), sections)
    links = [generated.section_path(section) for section in range(section_count)]
    generated.site.page("/site/", "Acme parts catalogue", "Every part Acme Widgets makes, by section.", links)
    for section in range(section_count):
        generated.put_section(section)
    for number in numbers:
        generated.put_content(number)
    return generated


def change_site(generated: GeneratedSite, changed: int, deleted: int) -> tuple[list[str], list[int]]:
    """Delete ``deleted`` content pages (from distinct sections, their links with them) and edit pages
    so that ``changed`` pages change in all, the deleted pages' sections included.
    Returns the changed paths and the deleted page numbers."""
    if deleted > len(generated.sections) or changed < deleted:
        raise ValueError("need a section per deleted page, and at least as many changed pages as deleted")
    rng = random.Random(2026)
    deleted_numbers = [rng.choice(members) for members in rng.sample(generated.sections, deleted)]
    changed_paths: list[str] = []
    for number in deleted_numbers:
        section = next(index for index, members in enumerate(generated.sections) if number in members)
        generated.sections[section].remove(number)
        generated.site.remove(generated.path(number))
        generated.put_section(section)
        changed_paths.append(generated.section_path(section))
    candidates = [number for members in generated.sections for number in members]
    for number in rng.sample(candidates, changed - deleted):
        generated.revisions[number] = generated.revisions.get(number, 0) + 1
        generated.put_content(number)
        changed_paths.append(generated.path(number))
    return changed_paths, deleted_numbers


#: Every method of a document store that changes it (the embedded store writes sources with
#: ``replace_sources``).
WRITES = (
    "write_documents",
    "delete_documents",
    "update_by_filter",
    "delete_by_filter",
    "replace_sources",
    "delete_all_documents",
)


class StoreWriteCounter:
    """Counts the document store's writes (chunks written or deleted, metadata updated)."""

    def __init__(self, service: NeedleService) -> None:
        self.names: list[str] = []
        store = service.store
        for name in WRITES:
            original = getattr(store, name)

            def counted(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
                self.names.append(_name)
                return _original(*args, **kwargs)

            setattr(store, name, counted)

    @property
    def calls(self) -> int:
        return len(self.names)


def _cites(answer: dict[str, Any], url: str) -> bool:
    listed = [*answer.get("citations", []), *answer.get("related", [])]
    return any(item.get("url") == url for item in listed) or any(
        (passage.get("meta") or {}).get("url") == url for passage in answer.get("passages", [])
    )


def ask_cli(data_dir: Path, text: str) -> dict[str, Any]:
    """``needle ask --json`` in its own process, over the bench's data directory."""
    env = {**os.environ, "NEEDLE_DATA_DIR": str(data_dir), "TQDM_DISABLE": "1"}
    code = "import sys; from pipelines.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "ask", "--json", text],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout)


@contextmanager
def _served(generated: GeneratedSite) -> Iterator[str]:
    with generated.site.serve() as base:
        yield base


def run_bench(
    pages: int, changed: int, deleted: int, data_dir: Path, *, use_cli: bool = True
) -> dict[str, Any]:
    """Three syncs of a generated site; the figures and whether each goal was met."""
    generated = generate_site(pages)
    site = generated.site
    service = NeedleService(load_settings(_env_file=None, data_dir=data_dir))
    writes = StoreWriteCounter(service)
    syncs: list[dict[str, Any]] = []
    asked: dict[str, Any] = {}
    with _served(generated) as base:
        service.connectors.create("web", "bench", {"url": f"{base}/site/", "max_pages": str(pages * 2)})

        def sync(name: str) -> dict[str, Any]:
            mark, before = site.mark(), writes.calls
            started = time.perf_counter()
            run = service.connectors.sync("bench")
            wall = time.perf_counter() - started
            statuses = site.statuses(mark)
            bodies = [path for path in site.paths(mark, status=200) if path != "/robots.txt"]
            figures = {
                "sync": name,
                "status": run.status,
                "wall_s": round(wall, 3),
                "requests": {str(code): count for code, count in sorted(statuses.items())},
                "bodies_downloaded": len(bodies),
                "listed": run.listed,
                "indexed": run.added + run.changed,
                "unchanged": run.unchanged,
                "removed": run.removed,
                "failed": run.failed,
                "store_writes": writes.calls - before,
            }
            syncs.append(figures)
            return {**figures, "bodies": bodies}

        first = sync("first")
        changed_paths, deleted_numbers = change_site(generated, changed, deleted)
        victim = deleted_numbers[0]
        victim_url = f"{base}{generated.path(victim)}"
        asked["question"] = question(victim)
        asked["deleted_page"] = victim_url
        asked["cited_before"] = _cites(service.ask(question(victim)).to_dict(), victim_url)
        second = sync("changed")
        asked["cited_after_in_process"] = _cites(service.ask(question(victim)).to_dict(), victim_url)
        third = sync("unchanged")
        if use_cli:
            service.close()
            asked["cited_after_needle_ask"] = _cites(ask_cli(data_dir, question(victim)), victim_url)
    after = asked.get("cited_after_needle_ask", asked["cited_after_in_process"])
    goals = {
        "changed_resync_downloads_only_the_changed_pages": sorted(second["bodies"]) == sorted(changed_paths),
        "changed_resync_under_10_percent_of_first": second["wall_s"] < 0.1 * first["wall_s"],
        "unchanged_resync_makes_no_store_write": third["store_writes"] == 0,
        "deleted_page_gone_from_answers_after_its_sync": bool(asked["cited_before"]) and not after,
    }
    return {
        "benchmark": "web connector sync",
        "pages": pages,
        "changed": changed,
        "deleted": deleted,
        "syncs": syncs,
        "ask": asked,
        "goals": goals,
        "all_goals_met": all(goals.values()),
    }
