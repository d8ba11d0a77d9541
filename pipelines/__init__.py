"""Needle's core, one room per reason to change; a room imports only the rooms below it.

- ``cli``: the ``needle`` command, one module per command group.
- ``app``: the HTTP server the faces mount on, what a console session may see, ``needle doctor``.
- ``lab``: why a source was (not) retrieved, comparing configurations, retrieval and answer evaluation.
- ``service``: :class:`~pipelines.service.facade.NeedleService`, the one object the faces talk to.
- ``connectors`` and ``knowledge``: documents synced from where they live; gaps, verified answers,
  freshness and usage.
- ``querying`` and ``indexing``: a question to a cited answer; a file to a stored source.
- ``records``: accounts, audit, audiences, cases, channel settings, jobs and the typed answers.
- ``stores``: the document stores (embedded or Elasticsearch), the record and trace stores, originals.
- ``text``: language-neutral text helpers. ``base``: settings, errors, sizes, SQLite, logging, metrics.

The faces (``bot``, ``admin``) sit above all of it and never import each other; the core never imports
a face. The rules are import-linter contracts in pyproject.toml, checked by ``lint-imports``.
"""

import os

# Haystack sends anonymous usage telemetry by default; Needle runs inside companies and on machines without
# internet, so it stays off unless the operator turns it on explicitly.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
