"""What the ``mood`` command's exit statuses mean (its --help and README say the same)."""

from __future__ import annotations

from typing import Final

from mood.errors import MoodError

FAILED_STATUS: Final = 1  # some inputs failed: their rows hold the errors
COULD_NOT_RUN_STATUS: Final = 2  # the run could not start or go on (also argparse's status for bad options)
INTERRUPTED_STATUS: Final = 130  # the shell's status for a run stopped by Ctrl-C
BROKEN_PIPE_STATUS: Final = 141  # the shell's status for a command whose reader went away (SIGPIPE)


class UsageError(MoodError):
    """Options that do not go together; reported with the command's usage."""
