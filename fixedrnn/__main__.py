"""``python -m fixedrnn``: see :mod:`fixedrnn.cli`."""

import sys

from fixedrnn.cli import main

sys.exit(main())
