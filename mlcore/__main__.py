"""Entry point for ``python -m mlcore`` (see mlcore.cli)."""

import sys

from .cli import main

sys.exit(main())
