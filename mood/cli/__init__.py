"""The ``mood`` command (``python -m mood``): ``analyze`` judges songs, ``tag`` / ``untag`` write
their moods into the files, ``playlist`` makes playlists from a run's results.

Each subcommand lives in its own module with its flags (``add_parsers``) and its run; heavy
modules load only once a command runs, so `--help` answers at once. Errors meant for the user
print as one line on stderr, never a traceback; exit statuses are in :mod:`mood.cli.status`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, TextIO

from mood.cli import analyze, playlist, tag
from mood.cli.analyze import ray_flag_before_a_path
from mood.cli.status import BROKEN_PIPE_STATUS, COULD_NOT_RUN_STATUS, INTERRUPTED_STATUS, UsageError
from mood.errors import MoodError

Run = Callable[[argparse.Namespace, TextIO], int]
RUNS: dict[str, Run] = {
    "analyze": analyze.run_analyze,
    "tag": tag.run_tag,
    "untag": tag.run_untag,
    "playlist": playlist.run_playlist,
}


def get_parser() -> argparse.ArgumentParser:
    """The command-line options of ``python -m mood``."""
    parser = argparse.ArgumentParser(prog="mood", description="What mood does a song carry?")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (analyze, tag, playlist):
        module.add_parsers(commands)
    return parser


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While running, SIGTERM stops the run as Ctrl-C does: outputs are closed, nothing is lost."""

    def interrupt(signum: int, frame: FrameType | None) -> Any:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of ``python -m mood``; returns the exit status."""
    parser = get_parser()
    args = parser.parse_args(ray_flag_before_a_path(sys.argv[1:] if argv is None else argv))
    try:
        with sigterm_as_interrupt():
            return RUNS[args.command](args, out or sys.stdout)
    except UsageError as e:
        parser.error(str(e))
    except BrokenPipeError:  # the reader stopped reading (e.g. `| head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return BROKEN_PIPE_STATUS
    except MoodError as e:  # e.g. the model's weights failed verification, a full disk
        print(f"error: {e}", file=sys.stderr)
    except OSError as e:  # e.g. an output that cannot be read back for --resume
        print(f"error: {e.filename or 'the run'}: {os.strerror(e.errno) if e.errno else e}", file=sys.stderr)
    except KeyboardInterrupt:
        results = getattr(args, "out", None) if args.command == "analyze" else None
        where = f"; the results so far are in {results}: add --resume to go on" if results else ""
        print(f"\ninterrupted{where}", file=sys.stderr)
        return INTERRUPTED_STATUS
    return COULD_NOT_RUN_STATUS


def main_exit() -> None:
    """The ``mood`` console script: :func:`main`, its status as the exit code."""
    sys.exit(main())
