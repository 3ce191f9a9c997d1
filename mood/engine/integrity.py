"""Every shipped file is checked against the sha256 its manifest records before it is used."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mood.errors import ModelError


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's contents."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_bytes(path: Path, sha256: str, kind: str = "weights file") -> bytes:
    """The contents of ``path``, after checking them against the manifest's ``sha256``.

    Args:
        path: a shipped file (weights, an ONNX export).
        sha256: what its manifest records.
        kind: what the file is, for the message ("weights file", "exported network").

    Raises:
        ModelError: the file is missing or does not match.
    """
    if not path.is_file():
        raise ModelError(f"The {kind} {path.name} is missing; restore it from the repository.")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ModelError(
            f"The {kind} {path.name} does not match its manifest "
            f"(expected sha256 {sha256[:12]}…, found {actual[:12]}…); restore both from the repository."
        )
    return data
