"""Convert musicnn's pretrained TensorFlow checkpoints to the PyTorch ports, and prove the port.

musicnn (Jordi Pons, Xavier Serra; ISC licence; https://github.com/jordipons/musicnn) ships
four TF1 checkpoints in its PyPI wheel ``musicnn==0.1.0``: ``MSD_musicnn``, ``MTT_musicnn``,
``MSD_vgg`` and ``MTT_vgg``, 50 tags each. One command converts them::

    .venv/bin/python -m mood.training convert musicnn-0.1.0-py3-none-any.whl \\
        --tf-python /work/tfvenv/bin/python [--out-dir mood/weights/backbones] [--models MSD_musicnn,...]

It runs in two interpreters. This one (the project's venv: torch, the project's front end)
synthesises the reference clips, computes their spectrogram windows with
``mood.engine.features`` and re-invokes this file (its :func:`main`) with ``--tf-python`` (a venv made from
``requirements-convert.txt``: TensorFlow needs numpy < 2, the project numpy 2). That TF stage
builds each network with musicnn's own ``models.define_model``, reads the checkpoint's
variables in the order the graph creates them, and runs the original on the same clips, both
through musicnn's own spectrogram code and on the project's windows. Back here the variables
are mapped onto the port (one mapping for every architecture, failing on any left over), the
port is run, and the conversion stops unless every tag probability is within
``TAG_TOLERANCE`` of the original's. It writes ``<out-dir>/<name>.pt`` (a state dict),
``<out-dir>/<name>.json`` (its manifest) and the test fixture of the original's outputs.

Only numpy and the standard library are imported at module level: the TF stage imports this
file without torch, and the project side (and the tests) import it without TensorFlow.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mood.constants import MUSICNN_PATCH_FRAMES, SAMPLE_RATE

if TYPE_CHECKING:
    import torch
    from torch import nn

    from mood.engine.architectures import ArchitectureConfig
    from mood.engine.models.musicnn import Musicnn, MusicnnVGG

    Port = Musicnn | MusicnnVGG

FloatArray = npt.NDArray[np.float32]

MUSICNN_VERSION = "0.1.0"
WHEEL_PACKAGE = "musicnn"  # the package folder inside the wheel
CHECKPOINT_FILES = (".index", ".data-00000-of-00001")  # a checkpoint's variables: what is converted
COPYRIGHT = "Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. Code developed by Jordi Pons."
PRETRAINING_SETS = {
    "MSD": "Million Song Dataset (Last.fm top-50 tags)",
    "MTT": "MagnaTagATune (top-50 tags)",
}
PORT_OF_FAMILY = {"musicnn": "musicnn", "vgg": "musicnn_vgg"}  # musicnn's model family -> our architecture
DEFAULT_MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
OPTIMIZER_SLOTS = ("Adam", "Adam_1")  # per-variable Adam state saved beside each variable
OPTIMIZER_VARIABLES = ("beta1_power", "beta2_power")  # Adam's global state

TAG_TOLERANCE = 1e-4  # largest tolerated difference of a tag probability, port vs original
EXTRACTOR_TOLERANCE = 1e-6  # our TF harness vs musicnn.extractor.extractor, both TensorFlow

# TF variable name leaf -> PyTorch state-dict leaf, for conv, dense and batch-norm layers.
TF_TO_TORCH_LEAF = {
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}
TORCH_UNMAPPED_LEAF = "num_batches_tracked"  # PyTorch-only batch-norm counter, no TF counterpart

# Reference clips: deterministic synthesised audio at the project's decoding rate.
CLIP_SECONDS = 10.0
CLIP_NAMES = ("chords", "noise_bursts", "low_pad")
CHORD_PROGRESSION = ((60, 64, 67), (55, 59, 62), (57, 60, 64), (53, 57, 60))  # C G Am F, MIDI notes
PAD_NOTES = (33, 40, 45)  # A1 E2 A2
NOISE_SEED = 20190801
BURSTS_PER_SECOND = 4
BURST_DECAY_S = 0.06

DEFAULT_OUT_DIR = Path("mood/weights/backbones")  # mood.engine.weights.SHIPPED_WEIGHTS_DIR / BACKBONES_SUBDIR
DEFAULT_FIXTURE = Path("tests/fixtures/musicnn_reference.npz")
TF_STAGE = "--tf-stage"  # the hidden argument that runs this file as the TF stage


class ConversionError(RuntimeError):
    """The checkpoint does not map onto the port, or the port does not reproduce the original."""


@dataclass(frozen=True)
class ModelSpec:
    """One musicnn checkpoint: its name in the wheel, its training data and our architecture."""

    name: str

    @property
    def dataset(self) -> str:
        """``"MSD"`` or ``"MTT"``."""
        return self.name.split("_", 1)[0]

    @property
    def architecture(self) -> str:
        """The port's architecture name: ``"musicnn"`` or ``"musicnn_vgg"``."""
        return PORT_OF_FAMILY[self.name.split("_", 1)[1]]

    @property
    def file_stem(self) -> str:
        """File name of the converted weights and manifest, without extension."""
        return self.name.lower()


# --- reference clips (numpy only) ---------------------------------------------------------


def _midi_hz(notes: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Equal-tempered frequencies in Hz of MIDI note numbers (69 = A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((notes - 69) / 12)


def _hash_noise(n: int, seed: int) -> npt.NDArray[np.float64]:
    """White noise in [-1, 1) from a splitmix64 hash of the sample index: the same on every
    numpy version and platform (unlike a generator's stream, which numpy may change)."""
    x = np.arange(n, dtype=np.uint64) + np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / 2.0**52 - 1.0


def reference_clips() -> dict[str, FloatArray]:
    """The proof's clips: 10 s each, mono float32 at ``SAMPLE_RATE``, fully deterministic.

    ``chords``: a C-G-Am-F progression of four-partial tones with an attack-release envelope;
    ``noise_bursts``: decaying white-noise hits, four a second, alternating loud and soft;
    ``low_pad``: a sustained low A chord with slow tremolo, faded in and out.
    """
    n = round(CLIP_SECONDS * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE

    chord_s = CLIP_SECONDS / len(CHORD_PROGRESSION)
    chord_index = np.minimum((t // chord_s).astype(int), len(CHORD_PROGRESSION) - 1)
    local = t - chord_index * chord_s
    envelope = np.minimum(local / 0.02, 1.0) * np.exp(-1.5 * local)
    chords = np.zeros(n)
    for voice in range(3):
        freq = _midi_hz(np.array([chord[voice] for chord in CHORD_PROGRESSION])[chord_index])
        for partial in range(1, 5):
            chords += np.sin(2 * np.pi * partial * freq * t) / partial
    chords *= 0.08 * envelope

    burst_local = t % (1.0 / BURSTS_PER_SECOND)
    burst_gain = np.where((t * BURSTS_PER_SECOND).astype(int) % 2 == 0, 0.5, 0.15)
    bursts = burst_gain * np.exp(-burst_local / BURST_DECAY_S) * _hash_noise(n, NOISE_SEED)

    fade = np.minimum(np.minimum(t, CLIP_SECONDS - t) / 1.0, 1.0)
    tremolo = 1.0 + 0.3 * np.sin(2 * np.pi * 0.5 * t)
    pad = np.sin(2 * np.pi * _midi_hz(np.array(PAD_NOTES))[:, None] * t).sum(axis=0)
    low_pad = 0.15 * fade * tremolo * pad

    clips = {"chords": chords, "noise_bursts": bursts, "low_pad": low_pad}
    return {name: clips[name].astype(np.float32) for name in CLIP_NAMES}


def clip_fingerprint(clip: FloatArray) -> npt.NDArray[np.float64]:
    """(sum, sum of squares, sum of |x|) in float64: tells a regenerated clip from another one."""
    x = clip.astype(np.float64)
    return np.array([x.sum(), np.square(x).sum(), np.abs(x).sum()])


# --- checkpoint -> state dict (torch) -----------------------------------------------------


def torch_layout(value: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """A TensorFlow variable rearranged into the PyTorch tensor of ``shape``.

    conv2d kernels ``(time, freq, in, out)`` become ``(out, in, time, freq)``; a conv2d whose
    input is a one-channel ``(time, channels)`` image (musicnn's mid end) is a Conv1d, kernel
    ``(time, channels, 1, out)`` -> ``(out, channels, time)``; dense kernels ``(in, out)`` are
    transposed; vectors stay as they are.

    Raises:
        ConversionError: the rearranged variable does not have ``shape``.
    """
    if value.ndim == 4 and len(shape) == 4:
        out = value.transpose(3, 2, 0, 1)
    elif value.ndim == 4 and len(shape) == 3 and value.shape[2] == 1:
        out = value[:, :, 0, :].transpose(2, 1, 0)
    elif value.ndim == 2:
        out = value.T
    else:
        out = value
    if out.shape != shape:
        raise ConversionError(f"a TF variable of shape {value.shape} cannot fill a tensor of shape {shape}")
    return np.ascontiguousarray(out, dtype=np.float32)


def map_variables(tf_variables: list[tuple[str, FloatArray]], module: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``module`` filled from TF variables listed in graph-creation order.

    The ports register their tensors in the order the original creates its variables, so the
    i-th TF variable fills the i-th state-dict tensor (batch-norm counters aside); each pair
    must agree in kind (``kernel`` -> ``weight``, ``moving_mean`` -> ``running_mean``, ...)
    and in shape after :func:`torch_layout`.

    Returns:
        The full state dict, for ``load_state_dict(strict=True)``.

    Raises:
        ConversionError: a TF variable or a torch tensor is left over, or a pair disagrees.
    """
    import torch

    state = module.state_dict()
    targets = [key for key in state if not key.endswith(TORCH_UNMAPPED_LEAF)]
    if len(targets) != len(tf_variables):
        unused = [name for name, _ in tf_variables[len(targets) :]]
        unmapped = targets[len(tf_variables) :]
        raise ConversionError(
            f"{len(tf_variables)} TF variables for {len(targets)} torch tensors; "
            f"unused TF variables: {unused}; unmapped torch tensors: {unmapped}"
        )
    for (tf_name, value), key in zip(tf_variables, targets, strict=True):
        expected = TF_TO_TORCH_LEAF.get(tf_name.rsplit("/", 1)[-1])
        if expected != key.rsplit(".", 1)[-1]:
            raise ConversionError(f"TF variable {tf_name} would fill torch tensor {key}")
        try:
            state[key] = torch.from_numpy(torch_layout(value, tuple(state[key].shape)))
        except ConversionError as error:
            raise ConversionError(f"{tf_name} -> {key}: {error}") from None
    return state


def build_port(architecture: str, n_tags: int, config: ArchitectureConfig | None = None) -> Port:
    """A fresh port of the named architecture (``"musicnn"`` or ``"musicnn_vgg"``), eval mode.

    ``config`` is its shape as a manifest records it; None builds the original's shape.
    """
    from mood.engine.features import MUSICNN_FRONT_END
    from mood.engine.models import build_model
    from mood.engine.models.musicnn import Musicnn, MusicnnVGG

    port = build_model(architecture, MUSICNN_FRONT_END, n_tags, config)
    if not isinstance(port, Musicnn | MusicnnVGG):
        raise ConversionError(f"{architecture!r} is not a musicnn port; known: {', '.join(PORT_OF_FAMILY.values())}")
    return port.eval()


def run_port(module: Port, windows: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Tag probabilities ``(n, n_tags)`` and embeddings ``(n, dim)`` of ``(n, n_mels, frames)`` windows."""
    import torch

    with torch.inference_mode():
        mel = torch.from_numpy(windows)
        embedding = module.embed(mel)
        probabilities = torch.sigmoid(module(mel))
    return probabilities.numpy(), embedding.numpy()


# --- TF stage (the TF venv; TensorFlow imported here only) ------------------------------------


def _tf_stage(package_root: Path, inputs_path: Path, output_path: Path, names: list[str]) -> None:
    """Read each checkpoint and run the original network; save everything to ``output_path``.

    Saved: each clip's spectrogram patches as musicnn's own ``batch_data`` cuts them from its
    wav; for each model its tags, its variables in graph-creation order (names and values),
    and per clip the original's tag probabilities and embeddings on those patches and on the
    project's windows given in ``inputs_path``, and musicnn's own ``extractor`` taggram, which
    this harness must reproduce.
    """
    warnings.filterwarnings("ignore", message=r".* is deprecated and will be removed")  # musicnn's tf.layers
    import tensorflow as tf

    sys.path.insert(0, str(package_root))
    from musicnn import configuration, extractor, models

    if Path(models.__file__).resolve().parent != (package_root / WHEEL_PACKAGE).resolve():
        raise ConversionError(f"imported musicnn from {models.__file__}, not from {package_root}")
    inputs = np.load(inputs_path)
    wavs = {clip: str(inputs_path.parent / f"{clip}.wav") for clip in CLIP_NAMES}
    result: dict[str, Any] = {}
    for clip, wav in wavs.items():
        patches, _ = extractor.batch_data(wav, MUSICNN_PATCH_FRAMES, MUSICNN_PATCH_FRAMES)
        result[f"{clip}|patches"] = patches.astype(np.float32)
    for name in names:
        spec = ModelSpec(name)
        tags = configuration.MSD_LABELS if spec.dataset == "MSD" else configuration.MTT_LABELS
        checkpoint = str(package_root / WHEEL_PACKAGE / name) + "/"
        tf.compat.v1.reset_default_graph()
        x = tf.compat.v1.placeholder(tf.float32, [None, MUSICNN_PATCH_FRAMES, configuration.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        with tf.name_scope("model"):
            outputs = models.define_model(x, is_training, name, len(tags))
        # musicnn's "penultimate" (its last output); the VGG's "pool5", flattened as its dense layer sees it
        embedding = outputs[-1] if spec.architecture == "musicnn" else tf.compat.v1.layers.flatten(outputs[-1])
        fetches = [tf.nn.sigmoid(outputs[0]), embedding]
        graph_names = [variable.op.name for variable in tf.compat.v1.global_variables()]
        reader = tf.compat.v1.train.NewCheckpointReader(checkpoint)
        _check_checkpoint_names(graph_names, set(reader.get_variable_to_shape_map()), name)
        result[f"{name}|tags"] = np.array(tags)
        result[f"{name}|variables"] = np.array(graph_names)
        for i, variable in enumerate(graph_names):
            result[f"{name}|variable|{i}"] = reader.get_tensor(variable)

        with tf.compat.v1.Session() as session:
            tf.compat.v1.train.Saver().restore(session, checkpoint)  # as musicnn's extractor loads it
            for clip in CLIP_NAMES:
                for key, patches in (
                    ("tf", result[f"{clip}|patches"]),
                    ("tf_project", inputs[f"{clip}|windows"].transpose(0, 2, 1)),  # (n, mels, frames) -> TF's
                ):
                    probs, embedded = session.run(fetches, {x: patches, is_training: False})
                    result[f"{name}|{clip}|{key}_probs"], result[f"{name}|{clip}|{key}_embedding"] = probs, embedded
        for clip, wav in wavs.items():
            with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
                taggram, _ = extractor.extractor(wav, model=name, input_length=3, extract_features=False)
            result[f"{name}|{clip}|extractor_probs"] = taggram
    np.savez(output_path, **result)


def _check_checkpoint_names(graph_names: list[str], checkpoint_names: set[str], model: str) -> None:
    """Every graph variable is in the checkpoint, and nothing else is but Adam's optimiser state.

    Raises:
        ConversionError: a variable is missing from the checkpoint, or an unknown one is in it.
    """
    graph = set(graph_names)
    missing = graph - checkpoint_names
    unused = {
        name
        for name in checkpoint_names - graph
        if name not in OPTIMIZER_VARIABLES
        and not (name.rsplit("/", 1)[-1] in OPTIMIZER_SLOTS and name.rsplit("/", 1)[0] in graph)
    }
    if missing or unused:
        raise ConversionError(f"{model}: missing from the checkpoint: {sorted(missing)}; unused: {sorted(unused)}")


# --- the project side -------------------------------------------------------------------------


def _unpack(wheel_or_dir: Path, scratch: Path) -> tuple[Path, str | None]:
    """The folder holding the ``musicnn`` package (the wheel unzipped into ``scratch``), and the
    wheel's SHA-256 (None when given a folder)."""
    from mood.engine.integrity import sha256_of

    wheel_sha = None
    root = wheel_or_dir
    if not wheel_or_dir.is_dir():
        wheel_sha = sha256_of(wheel_or_dir)
        root = scratch / "wheel"
        with zipfile.ZipFile(wheel_or_dir) as wheel:
            wheel.extractall(root)
    if not (root / WHEEL_PACKAGE / "models.py").is_file():
        raise ConversionError(f"{wheel_or_dir} holds no {WHEEL_PACKAGE}/models.py: not the musicnn wheel")
    return root, wheel_sha


def _project_windows(clips: dict[str, FloatArray]) -> dict[str, npt.NDArray[Any]]:
    """Each clip's windows and their start frames, computed by the project's musicnn front end."""
    from mood.engine.features import MUSICNN_FRONT_END, log_mel, make_windows

    out: dict[str, npt.NDArray[Any]] = {}
    for name, clip in clips.items():
        windows, starts = make_windows(log_mel(clip, MUSICNN_FRONT_END), MUSICNN_FRONT_END)
        out[f"{name}|windows"], out[f"{name}|starts"] = windows, np.array(starts)
    return out


def _run_tf_stage(tf_python: str, package_root: Path, scratch: Path, names: list[str], threads: int) -> Path:
    """Run this file's TF stage in ``tf_python``; the path of the results it saved."""
    output = scratch / "tf_results.npz"
    repo_root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(repo_root),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
    }
    # -P: not the script's folder on sys.path, whose modules (train, dataset, ...) would shadow others
    command = [tf_python, "-P", __file__, TF_STAGE, str(package_root), str(scratch / "inputs.npz"), str(output), *names]
    completed = subprocess.run(command, env=env, check=False)
    if completed.returncode != 0:
        raise ConversionError(
            f"the TF stage failed (exit {completed.returncode}; does {tf_python} have requirements-convert.txt?): "
            + " ".join(command)
        )
    return output


@dataclass(frozen=True)
class Proof:
    """Largest absolute differences between the port and the original, over every clip and window.

    ``port_*``: both networks on the same (the project's) windows: the port alone.
    ``end_to_end_*``: the port on the project's front end vs the original on musicnn's own
    spectrogram code (what the fixture holds): port and front end together.
    """

    port_tags: float
    port_embedding: float
    end_to_end_tags: float
    end_to_end_embedding: float
    spectrogram: float  # project's windows vs musicnn's own patches

    def failure(self) -> str | None:
        """Why the port fails the proof (a tag probability off by more than ``TAG_TOLERANCE``), or None."""
        if self.port_tags > TAG_TOLERANCE:
            return f"on the same spectrograms a tag probability differs by {self.port_tags:.2e} > {TAG_TOLERANCE:.0e}"
        if self.end_to_end_tags > TAG_TOLERANCE:
            return (
                f"the port matches on the same spectrograms ({self.port_tags:.1e}), but through the project's "
                f"front end a tag probability differs by {self.end_to_end_tags:.2e} > {TAG_TOLERANCE:.0e}: "
                f"its spectrogram differs from musicnn's by up to {self.spectrogram:.1e}"
            )
        return None

    def summary(self, model: str) -> str:
        """One line of the measured differences."""
        return (
            f"{model}: max |diff| port tags {self.port_tags:.2e} embedding {self.port_embedding:.2e}; "
            f"end to end tags {self.end_to_end_tags:.2e} embedding {self.end_to_end_embedding:.2e}; "
            f"spectrogram {self.spectrogram:.2e}"
        )


def _prove(module: Port, name: str, tf: Any, windows: dict[str, Any]) -> Proof:
    """Run the port on each clip's windows and compare it with the original's outputs."""
    diffs: dict[str, list[float]] = {field.name: [] for field in fields(Proof)}
    for clip in CLIP_NAMES:
        probs, embedding = run_port(module, windows[f"{clip}|windows"])
        extractor_gap = np.abs(tf[f"{name}|{clip}|extractor_probs"] - tf[f"{name}|{clip}|tf_probs"]).max()
        if extractor_gap > EXTRACTOR_TOLERANCE:
            raise ConversionError(f"{name}/{clip}: the TF harness differs from musicnn's extractor by {extractor_gap}")
        n_patches = len(tf[f"{name}|{clip}|tf_probs"])
        starts = windows[f"{clip}|starts"][:n_patches]
        if not np.array_equal(starts, np.arange(n_patches) * windows[f"{clip}|windows"].shape[2]):
            raise ConversionError(f"{clip}: the project's windows start at {starts}, not where musicnn's patches do")
        diffs["port_tags"].append(np.abs(probs - tf[f"{name}|{clip}|tf_project_probs"]).max())
        diffs["port_embedding"].append(np.abs(embedding - tf[f"{name}|{clip}|tf_project_embedding"]).max())
        diffs["end_to_end_tags"].append(np.abs(probs[:n_patches] - tf[f"{name}|{clip}|tf_probs"]).max())
        diffs["end_to_end_embedding"].append(np.abs(embedding[:n_patches] - tf[f"{name}|{clip}|tf_embedding"]).max())
        ours = windows[f"{clip}|windows"][:n_patches].transpose(0, 2, 1)
        diffs["spectrogram"].append(np.abs(ours - tf[f"{clip}|patches"]).max())
    return Proof(**{field: float(max(values)) for field, values in diffs.items()})


def _manifest(
    spec: ModelSpec,
    tags: list[str],
    module: Port,
    pt_path: Path,
    proof: Proof,
    files: dict[str, str],
    wheel_sha: str | None,
) -> dict[str, Any]:
    """The manifest of one converted network: what it is, where it came from, how it was proved."""
    from mood.engine.features import MUSICNN_FRONT_END
    from mood.engine.integrity import sha256_of

    return {  # mood.engine.manifest.NetworkManifest's fields (the labels are the tags), plus the proof
        "name": spec.file_stem,
        "architecture": spec.architecture,
        "architecture_config": asdict(module.config),
        "labels": tags,
        "features": MUSICNN_FRONT_END.to_dict(),
        "params": sum(p.numel() for p in module.parameters()),
        "sha256": sha256_of(pt_path),
        "trained_on": PRETRAINING_SETS[spec.dataset],
        "pretrained": {
            "package": "musicnn",
            "version": MUSICNN_VERSION,
            "model": spec.name,
            "licence": "ISC",
            "copyright": COPYRIGHT,
            "authors": "Jordi Pons, Xavier Serra",
            "trained_on": PRETRAINING_SETS[spec.dataset],
            "files": files,
            "wheel_sha256": wheel_sha,
        },
        "proof": {
            "clips": list(CLIP_NAMES),
            "tag_tolerance": TAG_TOLERANCE,
            "max_abs_diff": asdict(proof),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def convert(
    wheel_or_dir: Path, names: list[str], out_dir: Path, fixture: Path, tf_python: str, threads: int = 1
) -> dict[str, Proof]:
    """Convert the named checkpoints, prove each port, write weights, manifests and the fixture.

    Raises:
        ConversionError: a checkpoint does not map, or a port does not reproduce the original.
    """
    from mood.engine.integrity import sha256_of

    try:
        import torch
    except ImportError:
        raise ConversionError(
            "this side needs torch: run it with the project's venv and give the TF venv as --tf-python"
        ) from None
    import soundfile as sf

    torch.set_num_threads(threads)
    proofs: dict[str, Proof] = {}
    with tempfile.TemporaryDirectory(prefix="convert_musicnn_") as scratch_name:
        scratch = Path(scratch_name)
        package_root, wheel_sha = _unpack(wheel_or_dir, scratch)
        clips = reference_clips()
        for clip, samples in clips.items():
            sf.write(scratch / f"{clip}.wav", samples, SAMPLE_RATE, subtype="FLOAT")
            if not np.array_equal(sf.read(scratch / f"{clip}.wav", dtype="float32")[0], samples):
                raise ConversionError(f"{clip}.wav does not hold the clip's exact samples")
        windows: dict[str, Any] = _project_windows(clips)
        np.savez(scratch / "inputs.npz", **windows)
        tf = dict(np.load(_run_tf_stage(tf_python, package_root, scratch, names, threads)))

        ports: dict[str, tuple[list[str], Port]] = {}
        for name in names:
            tags = [str(tag) for tag in tf[f"{name}|tags"]]
            variables = [(str(v), tf[f"{name}|variable|{i}"]) for i, v in enumerate(tf[f"{name}|variables"])]
            module = build_port(ModelSpec(name).architecture, len(tags))
            module.load_state_dict(map_variables(variables, module), strict=True)
            ports[name] = tags, module
            proofs[name] = _prove(module, name, tf, windows)
            print(proofs[name].summary(name))
        failures = [f"{name}: {proof.failure()}" for name, proof in proofs.items() if proof.failure()]
        if failures:
            raise ConversionError("; ".join(failures))

        out_dir.mkdir(parents=True, exist_ok=True)
        reference = dict(np.load(fixture)) if fixture.is_file() else {}
        for name, (tags, module) in ports.items():
            spec = ModelSpec(name)
            pt_path = out_dir / f"{spec.file_stem}.pt"
            torch.save(module.state_dict(), pt_path)
            checkpoint_dir = package_root / WHEEL_PACKAGE / name
            files = {f"{WHEEL_PACKAGE}/{name}/{f}": sha256_of(checkpoint_dir / f) for f in CHECKPOINT_FILES}
            manifest = _manifest(spec, tags, module, pt_path, proofs[name], files, wheel_sha)
            (out_dir / f"{spec.file_stem}.json").write_text(json.dumps(manifest, indent=2) + "\n")
            for clip in CLIP_NAMES:
                reference[f"{name}|{clip}|probs"] = tf[f"{name}|{clip}|tf_probs"]
                reference[f"{name}|{clip}|embedding"] = tf[f"{name}|{clip}|tf_embedding"]
        for clip, samples in clips.items():
            reference[f"{clip}|fingerprint"] = clip_fingerprint(samples)
        fixture.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(fixture, **reference)
    return proofs


def main(argv: list[str] | None = None) -> int:
    """The TF stage, as :func:`_run_tf_stage` invokes this file: ``--tf-stage ROOT INPUTS OUTPUT NAMES...``."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != [TF_STAGE]:
        print("convert with: python -m mood.training convert WHEEL --tf-python PYTHON", file=sys.stderr)
        return 2
    package_root, inputs, output, *names = args[1:]
    try:
        _tf_stage(Path(package_root), Path(inputs), Path(output), names)
    except ConversionError as error:
        print(f"TF stage: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
