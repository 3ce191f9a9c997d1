"""Property: decoding arbitrary bytes never crashes or hangs; it returns audio or an AudioError."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mood.engine.audio import load_audio
from mood.errors import AudioError
from tests.helpers import tone

_buffer = io.BytesIO()
sf.write(_buffer, tone(440.0, seconds=0.5, sr=8_000), 8_000, format="WAV")
VALID_WAV = _buffer.getvalue()


def decodes_or_fails_cleanly(data: bytes) -> None:
    try:
        wav = load_audio(data)
    except AudioError as e:
        assert str(e)
    else:
        assert wav.dtype == np.float32 and wav.ndim == 1 and np.all(np.isfinite(wav))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    decodes_or_fails_cleanly(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(VALID_WAV) - 1), st.binary(min_size=1, max_size=64), st.booleans())
def test_corrupted_wav(offset: int, junk: bytes, truncate: bool) -> None:
    data = VALID_WAV[:offset] + junk + (b"" if truncate else VALID_WAV[offset + len(junk) :])
    decodes_or_fails_cleanly(data)
