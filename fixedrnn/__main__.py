"""``python -m fixedrnn``: see :mod:`fixedrnn.cli` (an interruption while it is imported: one line,
exit 130)."""

import sys

try:
    from fixedrnn.cli import main
except KeyboardInterrupt:
    print("fixedrnn: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
