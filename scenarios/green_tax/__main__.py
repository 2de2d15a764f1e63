"""``python -m scenarios.green_tax``: see :mod:`scenarios.green_tax.cli`."""

import sys

from .cli import main

sys.exit(main())
