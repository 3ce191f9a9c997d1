"""Spotify credentials: where they are read from, and that the secret never shows."""

from __future__ import annotations

import pytest

from mood.sources import SpotifyCredentials, credentials_from

ENV = {"SPOTIPY_CLIENT_ID": "env-id", "SPOTIPY_CLIENT_SECRET": "env-secret", "PATH": "/usr/bin"}


def test_nothing_configured_means_no_credentials() -> None:
    assert credentials_from({"PATH": "/usr/bin"}) is None
    assert credentials_from({}, {}) is None


def test_environment_variables_are_read() -> None:
    assert credentials_from(ENV) == SpotifyCredentials("env-id", "env-secret")


def test_top_level_secrets_win_over_the_environment() -> None:
    secrets = {"SPOTIPY_CLIENT_ID": "top-id", "SPOTIPY_CLIENT_SECRET": "top-secret"}
    assert credentials_from(ENV, secrets) == SpotifyCredentials("top-id", "top-secret")


def test_a_spotify_section_wins_over_top_level_secrets() -> None:
    secrets = {
        "SPOTIPY_CLIENT_ID": "top-id",
        "SPOTIPY_CLIENT_SECRET": "top-secret",
        "spotify": {"client_id": " section-id ", "client_secret": "section-secret\n"},
    }
    assert credentials_from(ENV, secrets) == SpotifyCredentials("section-id", "section-secret")


@pytest.mark.parametrize(
    "secrets",
    [
        {"spotify": {"client_id": "section-id"}},  # no secret
        {"spotify": {"client_id": "section-id", "client_secret": "   "}},  # blank secret
        {"spotify": "not a table", "SPOTIPY_CLIENT_ID": "top-id"},  # half a top-level pair
    ],
)
def test_an_incomplete_place_is_skipped(secrets: dict[str, object]) -> None:
    assert credentials_from(ENV, secrets) == SpotifyCredentials("env-id", "env-secret")
    assert credentials_from({}, secrets) is None


def test_the_secret_never_appears_in_repr_or_str() -> None:
    credentials = SpotifyCredentials("my-client-id", "s3cr3t-value")
    assert "s3cr3t-value" not in repr(credentials)
    assert "s3cr3t-value" not in str(credentials)
    assert "my-client-id" in repr(credentials)


def test_credentials_are_hashable_values() -> None:
    assert {SpotifyCredentials("a", "b"), SpotifyCredentials("a", "b")} == {SpotifyCredentials("a", "b")}


def test_debug_logging_never_shows_the_spotify_secret() -> None:
    import logging

    import mood.sources.spotify  # noqa: F401  (importing it sets the level)

    assert not logging.getLogger("spotipy.oauth2").isEnabledFor(logging.DEBUG)
