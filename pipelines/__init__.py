"""Needle's core: settings, stores, Haystack components and pipelines, and the service facade.

This package never imports the Slack bot (``bot``) or the admin console (``admin``).
"""

import os

# Haystack sends anonymous usage telemetry by default; Needle runs inside companies and on machines without
# internet, so it stays off unless the operator turns it on explicitly.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
