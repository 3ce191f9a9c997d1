"""`mood tag` and `mood untag`: each song's mood in its own file's tags (mood.batch.tags says
which fields), from an earlier run's results or judged now; `untag` removes exactly what mood wrote.

One line per file on stdout (``--json``: one JSON object), a count on stderr; exit 1 if any
file could not be tagged (its line says why), the others are tagged all the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mood.cli.status import FAILED_STATUS, UsageError
from mood.constants import ENSEMBLE, MODEL_NAMES

if TYPE_CHECKING:
    from mood.batch.tags import TagOutcome


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``tag`` and ``untag`` subcommands."""
    tag = commands.add_parser(
        "tag",
        help="write each song's mood into its file's tags",
        description="Write each song's mood into its own file (ID3 TMOO, Vorbis MOOD, the iTunes MOOD atom, "
        "plus MOOD4Q_ numbers). From an earlier run's results with --from (nothing is judged again), else the "
        "files are judged first. The audio is never touched; a file that cannot be tagged is reported and the "
        "others go on (exit 1). Running it again changes nothing.",
    )
    tag.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="audio files or folders to judge and tag")
    tag.add_argument(
        "--from", dest="results", type=Path, metavar="RESULTS", help="tag from a results file of mood analyze --out"
    )
    tag.add_argument(
        "--base",
        type=Path,
        default=None,
        help="with --from: the folder its relative paths start from (default: the current one)",
    )
    tag.add_argument("--model", choices=MODEL_NAMES, default=ENSEMBLE, help="without --from: which model judges")
    tag.add_argument(
        "--overwrite", action="store_true", help="replace a MOOD that someone else wrote (untag puts it back)"
    )
    _common_flags(tag)
    untag = commands.add_parser(
        "untag",
        help="remove the tags mood wrote",
        description="Remove exactly the tags mood wrote (and put back a MOOD that --overwrite replaced); every "
        "other tag stays. A file that cannot be changed is reported and the others go on (exit 1).",
    )
    untag.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="audio files or folders")
    _common_flags(untag)


def _common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="list what would change; write nothing")
    parser.add_argument("--json", action="store_true", help="one JSON object per file and line")
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the check that the audio stream is unchanged (faster)"
    )


def run_tag(args: argparse.Namespace, out: TextIO) -> int:
    """``mood tag``; returns the exit status."""
    from mood.batch.tags import tag_files

    if bool(args.results) == bool(args.paths):
        raise UsageError(
            "Give either audio files or folders to judge and tag, or --from RESULTS (an earlier run's results)."
        )
    pairs = _results_to_tag(args)
    outcomes = tag_files(pairs, overwrite=args.overwrite, dry_run=args.dry_run, verify_audio=not args.no_verify)
    return _report(outcomes, args.json, out)


def run_untag(args: argparse.Namespace, out: TextIO) -> int:
    """``mood untag``; returns the exit status."""
    from mood.batch.tags import untag_files
    from mood.cli.analyze import expand_paths

    outcomes = untag_files(expand_paths(args.paths), dry_run=args.dry_run, verify_audio=not args.no_verify)
    return _report(outcomes, args.json, out)


def _results_to_tag(args: argparse.Namespace) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """(file, flat result row) pairs: read from ``--from``, or judged now."""
    from mood.batch.tags import results_to_tag

    if args.results is not None:
        yield from results_to_tag(args.results, args.base)
        return
    from mood.batch.results import flat_row, input_name
    from mood.batch.run import DECODE_WORKERS, run_library
    from mood.cli.analyze import expand_paths
    from mood.engine.inference import Predictor

    inputs = list(expand_paths(args.paths))
    for result in run_library(inputs, Predictor(args.model), workers=DECODE_WORKERS):
        row = flat_row(result.record)
        yield Path(input_name(row)), row


def _report(outcomes: Iterable[TagOutcome], as_json: bool, out: TextIO) -> int:
    """Print each outcome as it comes, then the counts; ``FAILED_STATUS`` if any failed."""
    from mood.batch.results import printable

    counts: Counter[str] = Counter()
    for outcome in outcomes:
        counts[outcome.status] += 1
        if as_json:
            print(json.dumps(outcome.to_dict()), file=out, flush=True)
        elif outcome.error is not None:
            print(f"{printable(outcome.path)}: error: {outcome.error}", file=out, flush=True)
        else:
            changes = "; ".join(str(c) for c in outcome.changes)
            print(
                f"{printable(outcome.path)}: {outcome.status}{': ' + changes if changes else ''}", file=out, flush=True
            )
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no files", file=sys.stderr)
    return FAILED_STATUS if counts["failed"] else 0
