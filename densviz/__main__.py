"""``python -m densviz``: the same as the ``densviz`` command."""

import sys

from densviz.cli import main

sys.exit(main())
