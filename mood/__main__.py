"""`python -m mood`: see :mod:`mood.cli`."""

import sys

from mood.cli import main

sys.exit(main())
