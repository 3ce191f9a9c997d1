"""Shared test fixtures: a network guard, a synthesised song and random-weight models; the ``slow`` marker."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mood.engine.serving import PRECISION_ENV
from tests.helpers import chord_progression, write_audio

TESTS_DIR = Path(__file__).parent
# The tests pin the float32 answers, whatever this CPU has (subprocesses inherit it);
# tests/test_precision.py checks what the default, bfloat16 where the CPU has it, serves.
os.environ[PRECISION_ENV] = "f32"
SLOW_TESTS = frozenset(
    {
        # whole files
        "test_train.py",  # training: every member's command end to end
        "test_ray.py",  # Ray: a local cluster per run
        "test_browser.py",  # headless Chromium (also marked browser)
        "test_browser_library.py",
        "test_app.py",  # Streamlit AppTest
        "test_app_library.py",
        "faults/test_resume_kill.py",  # a library run killed with SIGKILL, then resumed
        "faults/test_sinks_disk.py",  # a full tmpfs under the sinks
        "faults/test_http_deadline.py",  # each test waits for its deadline
        "test_wheel.py",  # builds a wheel and installs it in a clean venv
        "test_onnx_export.py",  # ONNX export and int8 quantisation
        "test_serving_without_torch.py",  # every model and the CLI in a subprocess without torch
        # single tests: the slowest of the rest (`pytest -m "not slow" --durations=20`)
        "test_cli.py::test_resume_retries_the_inputs_that_failed_and_replaces_their_rows",
        "test_cli.py::test_out_streams_every_result_to_the_file_and_json_still_prints",
        "test_cli.py::test_resume_skips_what_is_done_and_appends_the_rest",
        "test_library.py::test_results_come_in_input_order_and_a_bad_file_stops_nothing",
        "test_musical.py::test_major_progressions_score_more_major_than_minor_ones",
        "test_inference.py::test_a_four_minute_song_gets_a_full_timeline",
        "faults/test_decode_oddities.py::test_the_mp3_decoders_notes_do_not_reach_the_terminal",
        "faults/test_decode_oddities.py::test_what_others_write_to_stderr_while_decoding_still_gets_there",
        "faults/test_decode_oddities.py::test_a_song_longer_than_the_limit_says_it_was_cut",
        "faults/test_decode_oddities.py::test_a_prediction_and_its_words_say_the_song_was_cut",
        "test_musical.py::test_the_mode_feature_has_the_sign_of_the_mode",
        "test_musicnn_port.py::test_port_reproduces_the_original",
        "test_cli_curation.py::test_a_read_only_file_is_reported_and_the_others_are_tagged",
        "test_decode_fuzz.py::test_random_bytes",
        "test_hybrid.py::test_the_cli_json_carries_why_only_for_the_hybrid",
        "test_analysis.py::test_the_app_pipeline_runs_the_shipped_hybrid_member_with_its_reasons",
    }
)
"""The tests marked ``slow`` (`make test-fast` leaves them out): files relative to tests/, or ``file::test``
(every parametrisation). The test files themselves stay unmarked."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of :data:`SLOW_TESTS` ``slow``."""
    for item in items:
        if not item.path.is_relative_to(TESTS_DIR):
            continue
        file = item.path.relative_to(TESTS_DIR).as_posix()
        test = item.originalname if isinstance(item, pytest.Function) else item.name
        if file in SLOW_TESTS or f"{file}::{test}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like never leave the machine
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any test that opens a connection beyond this machine (HTTP is faked with `responses`)."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> None:
        if not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", _guard_getaddrinfo(socket.getaddrinfo))
    yield


def _guard_getaddrinfo(real: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(host: object, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "localhost") and not _is_loopback((host,)):
            raise AssertionError(f"test tried to resolve a network host: {host!r}")
        return real(host, *args, **kwargs)

    return guarded


@pytest.fixture(scope="session")
def song_wav_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An 8 s synthesised song as WAV bytes (what an upload looks like)."""
    path = write_audio(chord_progression(), tmp_path_factory.mktemp("audio") / "song.wav")
    return path.read_bytes()


# ---------------------------------------------------------------- random-weight models


@pytest.fixture(scope="session")
def random_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights folder with random-weight resnet18 and cldnn and an ensemble manifest,
    written by the same registry code that ships the trained ones."""
    import torch

    from mood.engine.features import SCRATCH_FRONT_END
    from mood.engine.manifest import EnsembleManifest
    from mood.engine.models import build_model
    from mood.engine.torch_weights import save_network
    from mood.engine.weights import write_manifest

    folder = tmp_path_factory.mktemp("weights")
    for seed, name in enumerate(("resnet18", "cldnn")):
        torch.manual_seed(seed)
        network = build_model(name, SCRATCH_FRONT_END, 4).eval()
        save_network(network, name, folder, name, SCRATCH_FRONT_END, trained_on="random init (tests)")
    write_manifest(EnsembleManifest(name="ensemble", members=["resnet18", "cldnn"]), folder)
    return folder
