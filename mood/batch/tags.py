"""Each song's mood written into its own file, where music players read it, and taken out again.

What is written (field names as Vorbis comments; :mod:`mood.batch.tagfiles` gives each
format's place: ``TMOO`` / ``TXXX:<name>`` in ID3v2.4, ``----:com.apple.iTunes:<name>`` in MP4):

- ``MOOD``: the mood as one capitalised word, ``Happy``, ``Angry``, ``Sad`` or ``Calm`` (the first
  word of the app's display name). This is the standard mood field: Kodi, foobar2000, MusicBee,
  MusicBrainz Picard and Navidrome (its tag mappings: ``mood`` = ``TMOO``, ``MOOD``,
  ``----:com.apple.iTunes:MOOD``) read it; Jellyfin and beets have no mood field of their own
  (see the README's "Moods in your music files"). A word, not the id: players show the field as it
  is and list moods written by people and other taggers (AllMusic-style ``Calm``, ``Happy``), so
  a capitalised word sits with them; one word, because Kodi and others split a field on `` / ``
  and ``;`` (``Calm / relaxed`` would become two moods). The id is the word lower-cased.
- ``MOOD4Q_VALENCE``, ``MOOD4Q_AROUSAL`` (each in [-1, 1]), ``MOOD4Q_HAPPY``, ``MOOD4Q_ANGRY``,
  ``MOOD4Q_SAD``, ``MOOD4Q_CALM`` (probabilities in [0, 1]), three decimals, and
  ``MOOD4Q_MODEL`` (the model's id), and ``MOOD4Q_DISTANCE``: how far the song is from the
  music the models learnt from (:mod:`mood.engine.familiarity`; about 1 for a song like the
  training clips, over ``UNFAMILIAR_DISTANCE`` (1.5) unlike them, its mood less sure), three
  decimals, only from a model that measures it (the ensemble, the hybrid). "4Q" for the four
  quadrants of Russell's map that these numbers describe; the prefix keeps them apart from the
  ``MOOD_HAPPY`` / ``MOOD_SAD`` fields of essentia and AcousticBrainz taggers, whose values mean
  something else (each a separate yes/no classifier). No player has a column for them;
  foobar2000 and MusicBee show them as custom fields, beets and Navidrome can be configured to
  read them.
- ``MOOD4Q_WROTE``: the ``MOOD`` value mood wrote, and ``MOOD4Q_REPLACED``: the values ``MOOD``
  held before ``overwrite`` replaced them. These mark what is mood's.

An existing ``MOOD`` that mood did not write (a person's, another tagger's) is kept unless
``overwrite=True``; the numbers are written either way. ``MOOD`` counts as mood's while it
still says what ``MOOD4Q_WROTE`` records; edited since, it is the person's again. Untagging
removes every ``MOOD4Q_`` field and mood's own ``MOOD``, putting back what ``overwrite``
replaced, so a file comes back with exactly the tags it had. Every other field is left alone.

Nothing may be lost: a file is only rewritten when its tags differ from what they should say
(a second run changes nothing, not even the modification time), and then through a copy
beside it (:func:`mood.batch.atomic.replace_atomically`): the copy is tagged, read back, its
audio stream compared with the original's (:func:`mood.batch.tagfiles.audio_digest`), and only
then renamed over the original. An interrupted run leaves each file as it was or fully
tagged. A file with no write permission (for anyone; even when run as root) is an error row.
A replaced file is a new file (new inode) with the original's permissions and, where allowed,
owner; hard links to the old file keep the old version. An ID3v1 tag at the end of an
MP3 is refreshed by mutagen from the ID3v2 title, artist, album and so on.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal

from mood.batch.atomic import replace_atomically
from mood.batch.results import input_name
from mood.batch.sinks import read_rows
from mood.batch.tagfiles import Fields, audio_digest, open_tagged
from mood.constants import MOOD_DISPLAY_NAMES, MOODS
from mood.errors import MoodError

log = logging.getLogger(__name__)

MOOD_FIELD: Final = "MOOD"
OWN_PREFIX: Final = "MOOD4Q_"
VALENCE_FIELD: Final = OWN_PREFIX + "VALENCE"
AROUSAL_FIELD: Final = OWN_PREFIX + "AROUSAL"
PROBABILITY_FIELDS: Final = {mood: OWN_PREFIX + mood.upper() for mood in MOODS}
MODEL_FIELD: Final = OWN_PREFIX + "MODEL"
DISTANCE_FIELD: Final = OWN_PREFIX + "DISTANCE"  # how far from the training music (none: not measured)
WROTE_FIELD: Final = OWN_PREFIX + "WROTE"  # the MOOD value mood wrote
REPLACED_FIELD: Final = OWN_PREFIX + "REPLACED"  # MOOD's values before mood overwrote them
NUMBER_FIELDS: Final = {VALENCE_FIELD: "valence", AROUSAL_FIELD: "arousal"} | {
    field: mood for mood, field in PROBABILITY_FIELDS.items()
}
OWN_FIELDS: Final = (*NUMBER_FIELDS, MODEL_FIELD, DISTANCE_FIELD, WROTE_FIELD, REPLACED_FIELD)
MOOD_WORDS: Final = {mood: MOOD_DISPLAY_NAMES[mood].split(" / ")[0] for mood in MOODS}  # "Calm"
DECIMALS: Final = 3

Status = Literal["failed", "written", "would change", "unchanged"]
Target = dict[str, tuple[str, ...]]  # fields and the values they should hold; () = absent


@dataclass(frozen=True)
class TagChange:
    """One field of one file that changes.

    Attributes:
        field: its name (as a Vorbis comment, e.g. ``MOOD``).
        key: where the file's format stores it (e.g. ``TMOO``).
        before: its values now (empty: no such field).
        after: its values after the change (empty: removed).
    """

    field: str
    key: str
    before: tuple[str, ...]
    after: tuple[str, ...]

    def __str__(self) -> str:
        def shown(values: tuple[str, ...]) -> str:
            return "; ".join(values) if values else "(none)"

        return f"{self.key}: {shown(self.before)} -> {shown(self.after)}"


@dataclass(frozen=True)
class TagOutcome:
    """What a run did to one file (a row of ``mood tag`` / ``mood untag``'s report).

    Attributes:
        path: the file as given.
        changes: what changed (or, in a dry run or a failure, would have).
        written: whether the file was rewritten.
        error: why the file could not be handled (for the user), or None.
    """

    path: str
    changes: tuple[TagChange, ...] = ()
    written: bool = False
    error: str | None = None

    @property
    def status(self) -> Status:
        """``failed``, ``written``, ``would change`` (dry run) or ``unchanged``."""
        if self.error is not None:
            return "failed"
        if self.written:
            return "written"
        return "would change" if self.changes else "unchanged"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready row: path, status, changes as text, and error if any."""
        row: dict[str, Any] = {"path": self.path, "status": self.status, "changes": [str(c) for c in self.changes]}
        if self.error is not None:
            row["error"] = self.error
        return row


# ---------------------------------------------------------------- what the tags should say


def mood_values(result: Mapping[str, Any]) -> Target:
    """The ``MOOD4Q_`` numbers, model and distance of a result row, as tag values (no distance:
    the field is to be empty, so a file retagged by a model that does not measure it keeps none).

    Args:
        result: a flat row of a results file (:func:`mood.batch.sinks.read_rows`; for a fresh
            :class:`mood.batch.results.Result`, ``mood.batch.results.flat_row(result.record)``).

    Raises:
        MoodError: the row is a failed analysis, or lacks a value.
    """
    if result.get("error"):
        raise MoodError(f"No mood to write: this song's analysis failed ({result['error']}).")
    values: Target = {}
    for field, column in NUMBER_FIELDS.items():
        number = result.get(column)
        if number is None:
            raise MoodError(f"This result has no {column}; analyse the song again with mood analyze.")
        values[field] = (f"{float(number):.{DECIMALS}f}",)
    distance = result.get("distance_from_training")
    measured = () if distance is None else (f"{float(distance):.{DECIMALS}f}",)
    return values | {MODEL_FIELD: (str(result.get("model") or ""),), DISTANCE_FIELD: measured}


def mood_word(result: Mapping[str, Any]) -> str:
    """The word written to ``MOOD`` for a result row (e.g. ``Calm``).

    Raises:
        MoodError: the row has no mood.
    """
    mood = result.get("mood")
    if mood not in MOOD_WORDS:
        raise MoodError(f"This result has no mood ({mood!r}); analyse the song again with mood analyze.")
    return MOOD_WORDS[mood]


def _tagging_target(fields: Fields, result: Mapping[str, Any], overwrite: bool) -> Target:
    """Every field mood decides, with the values it should hold after tagging."""
    numbers = mood_values(result)
    word = (mood_word(result),)
    mood, wrote, replaced = fields.get(MOOD_FIELD), fields.get(WROTE_FIELD), fields.get(REPLACED_FIELD)
    ours = bool(wrote) and mood == wrote
    if not mood or ours:
        return {MOOD_FIELD: word, **numbers, WROTE_FIELD: word, REPLACED_FIELD: replaced if ours else ()}
    if overwrite:
        return {MOOD_FIELD: word, **numbers, WROTE_FIELD: word, REPLACED_FIELD: mood}
    return {**numbers, WROTE_FIELD: (), REPLACED_FIELD: ()}  # someone else's MOOD: kept, not mood's to remove


def _untagging_target(fields: Fields) -> Target:
    """Every field untagging decides: mood's own gone, ``MOOD`` back to what mood found."""
    target: Target = dict.fromkeys(OWN_FIELDS, ())
    wrote = fields.get(WROTE_FIELD)
    if wrote and fields.get(MOOD_FIELD) == wrote:
        target[MOOD_FIELD] = fields.get(REPLACED_FIELD)
    return target


def _changes(fields: Fields, target: Target) -> list[TagChange]:
    """The fields whose values differ from ``target``."""
    changes = []
    for field, after in target.items():
        before = fields.get(field)
        if before != after:
            changes.append(TagChange(field, fields.key(field), before, after))
    return changes


# ---------------------------------------------------------------- one file


def plan_tags(path: str | Path, result: Mapping[str, Any], *, overwrite: bool = False) -> list[TagChange]:
    """What :func:`write_tags` would change in ``path`` (for ``--dry-run``); the file is only read.

    Args:
        path: the song file.
        result: its flat result row (see :func:`mood_values`).
        overwrite: replace a ``MOOD`` that mood did not write.

    Raises:
        MoodError: the file cannot be read or tagged, is read-only while its tags would change,
            or the row holds no mood.
    """
    fields = open_tagged(Path(path)).fields
    return _planned(Path(path), _changes(fields, _tagging_target(fields, result, overwrite)))


def write_tags(
    path: str | Path, result: Mapping[str, Any], *, overwrite: bool = False, verify_audio: bool = True
) -> list[TagChange]:
    """Write a song's mood into its file; nothing is written when the tags already say it.

    Args:
        path: the song file (a symbolic link: the file it points to).
        result: its flat result row (see :func:`mood_values`).
        overwrite: replace a ``MOOD`` that mood did not write (untag puts it back).
        verify_audio: compare the audio stream before and after (one ffmpeg run each, ~20 ms).

    Returns:
        The changes made (empty: the file was not touched).

    Raises:
        MoodError: the file cannot be read, written or tagged, or the row holds no mood; the
            file is then as it was.
    """
    return _rewrite(
        Path(os.path.realpath(path)), partial(_tagging_target, result=result, overwrite=overwrite), verify_audio
    )


def plan_untag(path: str | Path) -> list[TagChange]:
    """What :func:`remove_tags` would change in ``path``; the file is only read.

    Raises:
        MoodError: the file cannot be read or tagged, or is read-only while its tags would change.
    """
    fields = open_tagged(Path(path)).fields
    return _planned(Path(path), _changes(fields, _untagging_target(fields)))


def _planned(path: Path, changes: list[TagChange]) -> list[TagChange]:
    """``changes``, once it is clear they could be made (a dry run fails where the run would)."""
    if changes:
        check_writable(path)
    return changes


def remove_tags(path: str | Path, *, verify_audio: bool = True) -> list[TagChange]:
    """Remove exactly what mood wrote to a file, putting back a ``MOOD`` it replaced.

    Args:
        path: the song file (a symbolic link: the file it points to).
        verify_audio: compare the audio stream before and after.

    Returns:
        The changes made (empty: mood had written nothing there; the file was not touched).

    Raises:
        MoodError: the file cannot be read or written; it is then as it was.
    """
    return _rewrite(Path(os.path.realpath(path)), _untagging_target, verify_audio)


def _rewrite(path: Path, decide: Callable[[Fields], Target], verify_audio: bool) -> list[TagChange]:
    """Make the file's fields say what ``decide`` wants of them, through a verified copy that
    replaces the file at once."""
    original = open_tagged(path)
    target = decide(original.fields)
    changes = _changes(original.fields, target)
    if not changes:
        return []
    check_writable(path)
    with replace_atomically(path, start_from_original=True) as copy_path:
        copy = open_tagged(copy_path, type(original.audio))
        for change in changes:
            if change.after:
                copy.fields.set(change.field, change.after)
            else:
                copy.fields.delete(change.field)
        copy.save()
        if _changes(open_tagged(copy_path, type(original.audio)).fields, target):
            raise MoodError(f"The tags written to {path} did not read back as written; the file was left as it was.")
        if verify_audio and audio_digest(copy_path) != audio_digest(path):
            raise MoodError(
                f"Tagging {path} would have changed its audio; the file was left as it was. Please report it."
            )
    return changes


def check_writable(path: Path) -> None:
    """Raise unless the file may be written: permission for this user, and a write bit set for
    someone (a file made read-only is respected even by root, who could write it anyway).

    Raises:
        MoodError: the file is read-only.
    """
    if not os.access(path, os.W_OK) or not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise MoodError(f"{path} is read-only; make it writable (chmod u+w) to tag it, or leave it out.")


# ---------------------------------------------------------------- many files


def tag_files(
    pairs: Iterable[tuple[str | Path, Mapping[str, Any]]],
    *,
    overwrite: bool = False,
    dry_run: bool = False,
    verify_audio: bool = True,
) -> Iterator[TagOutcome]:
    """Tag every file; a file that fails becomes an error row and the run goes on.

    Args:
        pairs: (song file, its flat result row), e.g. :func:`results_to_tag`.
        overwrite: replace a ``MOOD`` that mood did not write.
        dry_run: only say what would change.
        verify_audio: see :func:`write_tags`.

    Yields:
        One :class:`TagOutcome` per pair, in order.
    """
    for path, result in pairs:
        if dry_run:
            yield _outcome(path, partial(plan_tags, path, result, overwrite=overwrite), written=False)
        else:
            yield _outcome(path, partial(write_tags, path, result, overwrite=overwrite, verify_audio=verify_audio))


def untag_files(
    paths: Iterable[str | Path], *, dry_run: bool = False, verify_audio: bool = True
) -> Iterator[TagOutcome]:
    """Remove what mood wrote from every file; a file that fails becomes an error row.

    Yields:
        One :class:`TagOutcome` per path, in order.
    """
    for path in paths:
        if dry_run:
            yield _outcome(path, partial(plan_untag, path), written=False)
        else:
            yield _outcome(path, partial(remove_tags, path, verify_audio=verify_audio))


def _outcome(path: str | Path, act: Callable[[], list[TagChange]], written: bool = True) -> TagOutcome:
    """Run ``act`` (returns the changes) for one file; any failure becomes the outcome's error."""
    name = str(path)
    try:
        changes = tuple(act())
    except MoodError as e:
        return TagOutcome(name, error=" ".join(str(e).split()))
    except OSError as e:
        return TagOutcome(name, error=f"{name} could not be written ({e.strerror or e}); it was left as it was.")
    except Exception as e:  # one bad file never stops a library run
        log.exception("unexpected error tagging %s", name)
        return TagOutcome(name, error=f"Unexpected error ({type(e).__name__}: {e}); the file was left as it was.")
    return TagOutcome(name, changes, written=written and bool(changes))


def results_to_tag(results_path: Path, base: Path | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The (song file, result row) pairs of an earlier run's results file, to tag without
    judging again (``mood tag --from results.parquet``).

    Args:
        results_path: a ``.jsonl``, ``.csv`` or ``.parquet`` written by ``mood analyze --out``.
        base: the folder relative paths in it are relative to (the folder that run was started
            in; default: the current one).

    Raises:
        MoodError: the results file cannot be read.
    """
    for row in read_rows(results_path):
        if row.get("path"):
            yield (base or Path.cwd()) / input_name(row), row
