"""Spotify client credentials, read from Streamlit secrets or the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mood.sources.parsing import as_text

ENV_CLIENT_ID = "SPOTIPY_CLIENT_ID"
ENV_CLIENT_SECRET = "SPOTIPY_CLIENT_SECRET"


@dataclass(frozen=True)
class SpotifyCredentials:
    """A Spotify app's client id and secret (the secret never appears in its repr)."""

    client_id: str
    client_secret: str = field(repr=False)


def credentials_from(env: Mapping[str, str], secrets: Mapping[str, Any] | None = None) -> SpotifyCredentials | None:
    """Find Spotify credentials, the first complete pair winning.

    Looked for, in order: a ``[spotify]`` section of the secrets with ``client_id`` and
    ``client_secret``; top-level ``SPOTIPY_CLIENT_ID`` / ``SPOTIPY_CLIENT_SECRET`` secrets;
    the same two names in ``env``. Empty values count as missing.

    Args:
        env: environment variables, e.g. ``os.environ``.
        secrets: Streamlit secrets (``st.secrets``) or None.

    Returns:
        The credentials, or None when no place holds both values (the app then searches Deezer).
    """
    section = secrets.get("spotify") if secrets is not None else None
    candidates: list[tuple[object, object]] = []
    if isinstance(section, Mapping):
        candidates.append((section.get("client_id"), section.get("client_secret")))
    if secrets is not None:
        candidates.append((secrets.get(ENV_CLIENT_ID), secrets.get(ENV_CLIENT_SECRET)))
    candidates.append((env.get(ENV_CLIENT_ID), env.get(ENV_CLIENT_SECRET)))
    for raw_id, raw_secret in candidates:
        client_id, client_secret = as_text(raw_id), as_text(raw_secret)
        if client_id and client_secret:
            return SpotifyCredentials(client_id, client_secret)
    return None
