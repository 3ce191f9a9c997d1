"""A song file's tags, read and written the same way whatever its format (with mutagen).

A field has one name here, its Vorbis comment name (``MOOD``, ``TITLE``, ``MOOD4Q_VALENCE``),
and each format keeps it where that format's players look for it:

===========  ======================================  ===============  ============================
field        ID3 (MP3, WAV, AIFF)                    Vorbis comment   MP4 / M4A
===========  ======================================  ===============  ============================
``MOOD``     ``TMOO`` (``TXXX:MOOD`` in ID3v2.3)     ``MOOD``         ``----:com.apple.iTunes:MOOD``
``TITLE``    ``TIT2``                                ``TITLE``        ``©nam``
``ARTIST``   ``TPE1``                                ``ARTIST``       ``©ART``
any other    ``TXXX:<name>``                         ``<name>``       ``----:com.apple.iTunes:<name>``
===========  ======================================  ===============  ============================

Vorbis comments are FLAC's, Ogg Vorbis', Opus' (and Ogg FLAC's, Speex'). An ID3v2.3 tag stays
v2.3 (v2.3 has no ``TMOO``; players read ``TXXX:MOOD`` there); any other ID3 tag is written as
v2.4. WAV and AIFF keep their tags in an ``id3`` chunk, which mutagen writes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import mutagen
from mutagen.flac import FLAC
from mutagen.id3 import ID3, Frames
from mutagen.mp4 import MP4FreeForm, MP4Tags
from mutagen.ogg import OggFileType

from mood.constants import DECODE_TIMEOUT_S
from mood.errors import MoodError

ID3_FRAMES: Final = {"MOOD": "TMOO", "TITLE": "TIT2", "ARTIST": "TPE1"}
ID3_V23_FRAMES: Final = {"TITLE": "TIT2", "ARTIST": "TPE1"}  # no TMOO in v2.3
ID3_V23: Final = (2, 3, 0)
ID3_UTF8: Final = 3  # ID3 text encoding number (v2.3 cannot store it: mutagen writes UTF-16 there)
MP4_ATOMS: Final = {"TITLE": "\xa9nam", "ARTIST": "\xa9ART"}
MP4_FREEFORM: Final = "----:com.apple.iTunes:"  # the iTunes freeform atoms: ----:MEAN:NAME
SUPPORTED: Final = "MP3, FLAC, Ogg Vorbis, Opus, M4A/MP4, WAV and AIFF"


class Fields(Protocol):
    """A file's tag fields by their Vorbis comment names; a field holds a list of strings."""

    def key(self, name: str) -> str:
        """Where this format stores the field ``name`` (e.g. ``TMOO`` for ``MOOD`` in ID3)."""
        ...

    def get(self, name: str) -> tuple[str, ...]:
        """The field's values; empty if the file has none."""
        ...

    def set(self, name: str, values: Sequence[str]) -> None:
        """Replace the field's values (in memory: :meth:`TaggedFile.save` writes)."""
        ...

    def delete(self, name: str) -> None:
        """Remove the field (nothing happens if there is none)."""
        ...


class VorbisFields:
    """Vorbis comments (FLAC, Ogg Vorbis, Opus): names as they are, compared case-insensitively."""

    def __init__(self, tags: Any) -> None:
        self.tags = tags

    def key(self, name: str) -> str:
        return name

    def get(self, name: str) -> tuple[str, ...]:
        return tuple(self.tags.get(name, ()))

    def set(self, name: str, values: Sequence[str]) -> None:
        self.tags[name] = list(values)

    def delete(self, name: str) -> None:
        if name in self.tags:
            del self.tags[name]


class Id3Fields:
    """ID3v2 (MP3, WAV, AIFF): a frame of its own where ID3 has one, else a ``TXXX`` frame."""

    def __init__(self, tags: ID3) -> None:
        self.tags: Any = tags  # mutagen's ID3 methods are untyped
        self.frames = ID3_V23_FRAMES if tags.version == ID3_V23 else ID3_FRAMES

    def key(self, name: str) -> str:
        return self.frames.get(name, f"TXXX:{name}")

    def get(self, name: str) -> tuple[str, ...]:
        frame = self.tags.get(self.key(name))
        return () if frame is None else tuple(str(text) for text in frame.text)

    def set(self, name: str, values: Sequence[str]) -> None:
        key = self.key(name)
        extra = {"desc": name} if key.startswith("TXXX:") else {}
        frame = Frames[key.split(":")[0]](encoding=ID3_UTF8, text=list(values), **extra)
        self.tags.setall(key, [frame])

    def delete(self, name: str) -> None:
        self.tags.delall(self.key(name))


class Mp4Fields:
    """MP4 / M4A: iTunes' own atoms where it has one, else a freeform ``----:com.apple.iTunes:`` atom."""

    def __init__(self, tags: MP4Tags) -> None:
        self.tags: Any = tags  # mutagen's MP4 methods are untyped

    def key(self, name: str) -> str:
        return MP4_ATOMS.get(name, MP4_FREEFORM + name)

    def get(self, name: str) -> tuple[str, ...]:
        values = self.tags.get(self.key(name), ())
        return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values)

    def set(self, name: str, values: Sequence[str]) -> None:
        key = self.key(name)
        freeform = key.startswith(MP4_FREEFORM)
        self.tags[key] = [MP4FreeForm(v.encode("utf-8")) if freeform else v for v in values]  # type: ignore[no-untyped-call]

    def delete(self, name: str) -> None:
        self.tags.pop(self.key(name), None)


@dataclass
class TaggedFile:
    """A song file opened with mutagen, its tags as :class:`Fields`.

    Attributes:
        path: the file.
        audio: mutagen's object for it (a ``mutagen.FileType``).
        fields: its tags; an empty tag is created in memory for a file that has none.
    """

    path: Path
    audio: Any
    fields: Fields

    @property
    def duration_s(self) -> float | None:
        """The audio's length as its headers give it, in seconds (None if they do not)."""
        length = getattr(self.audio.info, "length", None)
        return float(length) if length else None

    def save(self, path: Path | None = None) -> None:
        """Write the tags to ``path`` (default: the file itself), in place.

        Raises:
            MoodError: mutagen could not write them.
        """
        tags = self.audio.tags
        options = {"v2_version": 3 if tags.version == ID3_V23 else 4} if isinstance(tags, ID3) else {}
        try:
            self.audio.save(path or self.path, **options)
        except mutagen.MutagenError as e:
            raise MoodError(f"The tags of {self.path} could not be written ({e}); the file was left as it was.") from e


def open_tagged(path: Path, kind: type[Any] | None = None) -> TaggedFile:
    """Open a song file's tags.

    Args:
        path: the file.
        kind: the mutagen class to read it with (default: mutagen recognises the format).

    Raises:
        MoodError: no such file, a format mood cannot tag, or tags mutagen cannot read.
    """
    if not path.is_file():
        raise MoodError(f"No file at {path}.")
    try:
        audio = kind(path) if kind is not None else mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError, EOFError) as e:
        raise MoodError(
            f"The tags of {path} could not be read ({e}); the file may be damaged. Re-export it, or leave it out."
        ) from e
    fields = _fields_of(audio)
    if fields is None:
        kind_name = "this kind of file" if audio is None else f"{type(audio).__name__} files"
        raise MoodError(f"mood cannot write tags to {kind_name} ({path}); it tags {SUPPORTED} files.")
    return TaggedFile(path, audio, fields)


def _fields_of(audio: Any) -> Fields | None:
    """The uniform view of a mutagen file's tags (created empty if it has none), or None for a
    format mood does not tag."""
    if audio is None or not hasattr(audio, "add_tags"):
        return None
    if audio.tags is None:
        try:
            audio.add_tags()
        except (mutagen.MutagenError, NotImplementedError):
            return None
    if isinstance(audio.tags, ID3):
        return Id3Fields(audio.tags)
    if isinstance(audio.tags, MP4Tags):
        return Mp4Fields(audio.tags)
    if isinstance(audio, (FLAC, OggFileType)):
        return VorbisFields(audio.tags)
    return None


def audio_digest(path: Path) -> str:
    """A hash of the file's audio stream as stored (ffmpeg copies its packets, decoding nothing),
    blind to tags: equal before and after a tag edit if and only if the audio was not touched.

    Raises:
        MoodError: ffmpeg could not read the file.
    """
    from mood.engine.audio import ffmpeg_executable

    command = [ffmpeg_executable(), "-v", "error", "-i", str(path), "-map", "0:a", "-c", "copy"]
    command += ["-f", "hash", "-hash", "sha256", "-"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=DECODE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as e:
        raise MoodError(f"Checking the audio of {path} took too long; the file was left as it was.") from e
    digest = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or not digest.startswith("SHA256="):
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise MoodError(f"The audio of {path} could not be checked ({reason[0]}); the file was left as it was.")
    return digest
