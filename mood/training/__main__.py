"""``python -m mood.training``: see :mod:`mood.training.cli`."""

import sys

from mood.training.cli import main

sys.exit(main())
