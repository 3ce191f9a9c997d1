"""`mood playlist RESULTS --out FILE.m3u8`: an extended M3U8 playlist from an earlier run's
results, chosen by mood, region of the valence/arousal map and confidence, sorted and cut, or
a mood journey from one mood to another (mood.batch.m3u)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from mood.constants import MOODS

SONGS_IN_A_JOURNEY = 12  # --journey without --songs


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``playlist`` subcommand."""
    playlist = commands.add_parser(
        "playlist",
        help="make a playlist by mood from a results file",
        description="Write an extended M3U8 playlist (UTF-8; titles, artists and lengths from the files' tags) "
        "of the songs in a results file of mood analyze --out that match every filter given.",
    )
    playlist.add_argument(
        "results", type=Path, metavar="RESULTS", help="a .jsonl, .csv or .parquet of mood analyze --out"
    )
    playlist.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="the playlist to write (.m3u8 or .m3u)"
    )
    playlist.add_argument(
        "--mood", action="append", choices=MOODS, default=[], help="keep songs of this mood (repeatable)"
    )
    playlist.add_argument(
        "--valence", metavar="LOW:HIGH", help="keep songs whose valence lies in this range, e.g. 0.2:1"
    )
    playlist.add_argument(
        "--arousal", metavar="LOW:HIGH", help="keep songs whose arousal lies in this range, e.g. -1:0"
    )
    playlist.add_argument(
        "--min-confidence", type=float, metavar="X", help="keep songs at least this sure (0.30 is the app's 'clear')"
    )
    playlist.add_argument(
        "--confidence", choices=("margin", "top"), default="margin",
        help="how sure: the top probability minus the second (margin, as the app) or the top probability",
    )  # fmt: skip
    playlist.add_argument(
        "--familiar-only",
        action="store_true",
        help="leave out songs unlike the music the models learnt from (their moods are less sure)",
    )
    playlist.add_argument(
        "--sort", metavar="COLUMN", help="sort by a column: energy, tempo_bpm, valence, calm, confidence ..."
    )
    playlist.add_argument("--descending", action="store_true", help="sort from the highest value")
    playlist.add_argument("--limit", type=int, metavar="N", help="at most N songs (after sorting)")
    playlist.add_argument(
        "--journey",
        metavar="FROM:TO",
        help="a mood journey, e.g. calm:happy: songs along the map from one mood to the other",
    )
    playlist.add_argument("--songs", type=int, default=SONGS_IN_A_JOURNEY, metavar="N", help="songs in a journey")
    playlist.add_argument(
        "--absolute", action="store_true", help="write absolute paths (default: relative to the playlist)"
    )
    playlist.add_argument(
        "--base",
        type=Path,
        default=None,
        help="the folder the results' relative paths start from (default: the current one)",
    )


def run_playlist(args: argparse.Namespace, out: TextIO) -> int:
    """``mood playlist``; returns 0 (a filter that matches no song raises, as a run that could not be made)."""
    from mood.batch.m3u import Selection, journey, parse_range, select, write_playlist
    from mood.batch.sinks import read_rows
    from mood.errors import MoodError

    rows = list(read_rows(args.results))
    if args.journey is not None:
        start, _, end = args.journey.partition(":")
        chosen = journey(rows, start, end, args.songs)
    else:
        selection = Selection(
            moods=tuple(args.mood),
            valence=parse_range(args.valence) if args.valence else None,
            arousal=parse_range(args.arousal) if args.arousal else None,
            min_confidence=args.min_confidence,
            confidence=args.confidence,
            familiar_only=args.familiar_only,
            sort_by=args.sort,
            descending=args.descending,
            limit=args.limit,
        )
        chosen = select(rows, selection)
    if not chosen:
        raise MoodError(f"No song in {args.results} matches; loosen the filters.")
    report = write_playlist(chosen, args.out, base=args.base, absolute=args.absolute)
    print(f"{report.path}: {report.n_songs} songs", file=out)
    for missing in report.missing:
        print(f"left out (no longer on disk): {missing}", file=sys.stderr)
    return 0
