"""Files real recorders and file systems produce: headers that lie, pipes and devices, noisy
decoders, songs longer than the analysis reads."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from mood.constants import SAMPLE_RATE
from mood.engine.audio import decode_audio, load_audio
from mood.errors import AudioError
from tests.helpers import tone, write_audio


def _zero_sized_wav(tmp_path: Path) -> Path:
    """A WAV whose RIFF and data sizes say 0, as a recorder that was cut off leaves them."""
    path = tmp_path / "recorder.wav"
    sf.write(path, tone(440.0, seconds=2.0, sr=SAMPLE_RATE), SAMPLE_RATE, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack("<I", 0)
    at = data.index(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 0)
    path.write_bytes(bytes(data))
    return path


def test_a_wav_whose_size_headers_say_zero_is_decoded_whole(tmp_path: Path) -> None:
    path = _zero_sized_wav(tmp_path)
    for source in (path, path.read_bytes()):
        wav = load_audio(source)
        assert wav.size == pytest.approx(2.0 * SAMPLE_RATE, abs=SAMPLE_RATE * 0.01)


def test_a_pipe_or_a_device_is_named_for_what_it_is(tmp_path: Path) -> None:
    fifo = tmp_path / "stream.wav"
    os.mkfifo(fifo)
    with pytest.raises(AudioError, match="not a regular file") as pipe_error:
        load_audio(fifo)  # must not block on opening the pipe
    assert "No file" not in str(pipe_error.value)
    with pytest.raises(AudioError, match="not a regular file"):
        load_audio("/dev/null")
    with pytest.raises(AudioError, match="folder"):
        load_audio(tmp_path)
    with pytest.raises(AudioError, match="No file"):
        load_audio(tmp_path / "missing.wav")


def _damaged_mp3(tmp_path: Path) -> Path:
    path = write_audio(tone(440.0, seconds=3.0), tmp_path / "damaged.mp3")
    data = bytearray(path.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 50] = b"\xff\xfb" * 25  # false frame headers mid-stream
    path.write_bytes(bytes(data))
    return path


def test_the_mp3_decoders_notes_do_not_reach_the_terminal(tmp_path: Path) -> None:
    path = _damaged_mp3(tmp_path)
    script = "import sys; from mood.engine.audio import load_audio; load_audio(sys.argv[1]); print('decoded')"
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "decoded" in done.stdout
    assert "Note:" not in done.stderr and "MPEG" not in done.stderr, done.stderr


def test_what_others_write_to_stderr_while_decoding_still_gets_there(tmp_path: Path) -> None:
    path = _damaged_mp3(tmp_path)
    script = (
        "import sys, threading, time; from mood.engine import audio\n"
        "real = audio._decode_with_soundfile\n"
        "def noisy(*a, **k):\n"
        "    sys.stderr.write('progress 50%\\n'); sys.stderr.flush()\n"
        "    return real(*a, **k)\n"
        "audio._decode_with_soundfile = noisy\n"
        "audio.load_audio(sys.argv[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    assert "progress 50%" in done.stderr


@pytest.mark.parametrize("suffix", [".wav", ".m4a"])  # soundfile's path and ffmpeg's
def test_a_song_longer_than_the_limit_says_it_was_cut(tmp_path: Path, suffix: str) -> None:
    path = write_audio(tone(330.0, seconds=4.0), tmp_path / f"long{suffix}")
    cut = decode_audio(path, max_duration_s=2.5)
    assert cut.truncated
    assert cut.samples.size == pytest.approx(2.5 * SAMPLE_RATE, abs=SAMPLE_RATE * 0.02)
    whole = decode_audio(path, max_duration_s=10.0)
    assert not whole.truncated
    assert whole.samples.size == pytest.approx(4.0 * SAMPLE_RATE, abs=SAMPLE_RATE * 0.1)


def test_a_prediction_and_its_words_say_the_song_was_cut() -> None:
    from mood.engine.audio import DecodedAudio
    from mood.engine.inference import Predictor
    from mood.presentation.report import truncation_note

    samples = tone(330.0, seconds=8.0, sr=SAMPLE_RATE)
    predictor = Predictor("cldnn")
    whole = predictor.predict(DecodedAudio(samples, truncated=False))
    assert not whole.truncated and whole.to_dict()["truncated"] is False and truncation_note(whole) is None
    cut = predictor.predict(DecodedAudio(samples, truncated=True))
    assert cut.truncated and cut.to_dict()["truncated"] is True
    assert cut.probabilities == whole.probabilities
    assert "only its first 10" in (truncation_note(cut) or "")


def test_a_library_run_records_that_a_long_song_was_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mood.engine.features
    from mood.batch.run import result_of
    from mood.engine.inference import Predictor

    path = write_audio(tone(330.0, seconds=8.0), tmp_path / "long.wav")
    monkeypatch.setattr(mood.engine.features, "decode_audio", lambda source, sr: decode_audio(source, sr, 6.0))
    record = result_of(path, Predictor("cldnn")).record
    assert record["truncated"] is True and record["duration_s"] == pytest.approx(6.0, abs=0.01)
