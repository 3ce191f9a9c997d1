"""`mood analyze --ray`: a local Ray instance gives the single-process run's results.

The run goes through the CLI's own code path (a local instance on loopback, its CPUs, no
dashboard, no usage statistics, shut down at the end), under the test network guard.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from mood.cli import main
from mood.errors import MoodError
from tests.helpers import chord_progression, write_audio

PROBABILITY_TOLERANCE = 1e-6  # workers run torch on one thread each: sums may round differently


def synthesised_library(folder: Path) -> list[Path]:
    """Six inputs in three formats, an undecodable one among them."""
    paths = [
        write_audio(chord_progression(seconds=3.0 + i, seed=10 + i), folder / f"song{i}{suffix}")
        for i, suffix in enumerate((".wav", ".flac", ".mp3", ".ogg", ".wav"))
    ]
    corrupt = folder / "corrupt.mp3"
    corrupt.write_bytes(b"\xff\xfb not an mp3 frame" * 64)
    return [*paths[:3], corrupt, *paths[3:]]


def run(argv: list[str]) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    status = main(argv, out=out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def assert_same(ray_value: Any, local_value: Any, where: str = "") -> None:
    """Equal, floats to PROBABILITY_TOLERANCE."""
    if isinstance(local_value, dict):
        assert isinstance(ray_value, dict) and list(ray_value) == list(local_value), where
        for key in local_value:
            assert_same(ray_value[key], local_value[key], f"{where}.{key}")
    elif isinstance(local_value, list):
        assert isinstance(ray_value, list) and len(ray_value) == len(local_value), where
        for i, (r, v) in enumerate(zip(ray_value, local_value, strict=True)):
            assert_same(r, v, f"{where}[{i}]")
    elif isinstance(local_value, float):
        assert ray_value == pytest.approx(local_value, abs=PROBABILITY_TOLERANCE), where
    else:
        assert ray_value == local_value, where


@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")  # Ray reading its own old settings
def test_ray_run_equals_the_single_process_run(
    random_weights_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mood.batch.ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_USAGE_STATS_ENABLED", raising=False)
    monkeypatch.delenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", raising=False)
    assert "ray" not in sys.modules  # the CLI imports it, after choosing a loopback-only instance
    inits: list[dict[str, Any]] = []
    gcs_addresses: list[str] = []
    real_import = mood.batch.ray.import_ray

    def import_and_record(local: bool = False) -> Any:
        ray = real_import(local)
        real_init = ray.init

        def recorded_init(**options: Any) -> Any:
            inits.append(options)
            context = real_init(**options)
            gcs_addresses.append(ray.get_runtime_context().gcs_address)
            return context

        monkeypatch.setattr(ray, "init", recorded_init)
        return ray

    monkeypatch.setattr(mood.batch.ray, "import_ray", import_and_record)
    inputs = [str(p) for p in synthesised_library(tmp_path)]
    common = ["analyze", "--json", "--weights-dir", str(random_weights_dir)]
    local_status, local = run([*common, *inputs])
    out = tmp_path / "ray.jsonl"
    ray_status, on_ray = run([*common, "--ray", "--out", str(out), *inputs])

    assert local_status == ray_status == 1  # the corrupt file, reported; the others analysed
    assert [r["path"] for r in on_ray] == inputs
    assert set(on_ray[3]) == {"path", "error"} and on_ray[3] == local[3]
    assert all(r["model"] == "ensemble" and len(r["timeline"]) >= 1 for i, r in enumerate(on_ray) if i != 3)
    assert_same(on_ray, local)
    assert [json.loads(line) for line in out.read_text().splitlines()] == on_ray  # written as printed
    assert len(inits) == 1 and inits[0]["address"] == "local"  # a local instance, started by the CLI
    assert inits[0]["num_cpus"] == len(os.sched_getaffinity(0)) and inits[0]["include_dashboard"] is False
    assert gcs_addresses[0].startswith("127.0.0.1:")  # the instance listened on loopback only
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    assert not sys.modules["ray"].is_initialized()  # the run shut its local instance down
    err = capsys.readouterr().err
    assert "6 songs in" in err and "1 failed" in err and "corrupt.mp3" in err

    _, moods_only = run([*common, "--ray", "--no-descriptors", *inputs])  # the workers skip the descriptors
    assert_same(moods_only, [{k: v for k, v in r.items() if k != "descriptors"} for r in local])


def test_without_ray_installed_the_message_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from mood.batch.ray import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    with pytest.raises(MoodError, match=r"pip install -e '\.\[scale\]'"):
        import_ray()


def test_results_are_put_back_in_input_order() -> None:
    from mood.batch.ray import in_input_order, n_blocks
    from mood.batch.results import Result

    rows = [{"index": i, "record": Result.failed(f"{i}.wav", "x").to_json()} for i in (2, 0, 1, 4, 3)]
    assert [r.path for r in in_input_order(iter(rows), 5)] == [f"{i}.wav" for i in range(5)]
    with pytest.raises(MoodError, match="4 of 6 results"):
        list(in_input_order(iter(rows[:3] + rows[4:]), 6))  # 4 is missing: only 0..3 come out in order
    assert n_blocks(6, 2) == 4 and n_blocks(1, 8) == 1 and n_blocks(64_000, 2) == 1000
