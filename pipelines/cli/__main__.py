"""``python -m pipelines.cli``: the ``needle`` command."""

import sys

from pipelines.cli import main

sys.exit(main())
