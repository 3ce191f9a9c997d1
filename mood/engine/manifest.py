"""Typed manifests: `<weights dir>/<name>.json` read into dataclasses and validated once.

docs/DESIGN.md's weights contract. A network's manifest describes its `.pt` (architecture and its
typed shape, labels, front end, checksum, provenance and cross-validated figures); the ensemble's
names its members and how they are combined. A missing or wrong field is a
:class:`~mood.errors.ModelError` naming the file and the field, never a ``KeyError``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import numpy as np
import numpy.typing as npt

from mood.constants import MOODS
from mood.engine.architectures import ARCHITECTURE_CONFIGS, HEAD_CONFIGS, ArchitectureConfig, HybridLogisticConfig
from mood.engine.familiarity import softening_factors
from mood.engine.features import FrontEnd
from mood.engine.musical import MusicalConfig
from mood.errors import ModelError

ConfidenceLevel = Literal["clear", "leaning", "mixed"]
CONFIDENCE_LEVELS: tuple[ConfidenceLevel, ...] = get_args(ConfidenceLevel)
Combination = Literal["mean", "weighted", "stacked"]

T = TypeVar("T")

TYPE_NAMED_BY = "type_named_by"
"""Field metadata ``(sibling field, {name: class})``: the field's class is the one its sibling names."""


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one mood."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Reliability:
    """How many clips got one confidence level, and how often they were right (None: no clips)."""

    clips: int
    accuracy: float | None


@dataclass(frozen=True)
class ShortClipCalibration:
    """The temperature for short songs (docs/DESIGN.md's ``short_clips``): fitted on the
    out-of-fold answers to short crops of the held-out clips, each scored as the app scores a
    song that short, with its figures (``ece_clip_temperature``: the crops' ECE with the whole
    clips' temperature; ``ece_after``: with each fold's crop temperature, fitted on the other folds)."""

    length_s: float  # how long each crop is
    clip_length_s: float  # how long the whole clips the main temperature was fitted on are
    clips: int  # how many crops
    macro_f1: float
    temperature: float
    ece_clip_temperature: float
    ece_after: float

    def __post_init__(self) -> None:
        if not 0 < self.length_s < self.clip_length_s:
            raise ValueError("the crops must be shorter than the clips")


@dataclass(frozen=True)
class FamiliarityCalibration:
    """How a song unlike the training music gets softer probabilities (docs/DESIGN.md's
    ``familiarity``): its answer's logarithms (and each window's) are divided by
    :func:`mood.engine.familiarity.softening_factors`, ``exp(slope * max(0, distance - 1))``, the distance
    being the hybrid member's (1: a typical training clip); the order of the moods never changes.
    ``slope`` is fitted by log-likelihood on the out-of-fold answers to the clips and their crops,
    each calibrated with its fold's temperature; the figures are the ECE of those answers without
    it and with each fold's slope, fitted on the other folds (the crops' None without crops)."""

    slope: float
    clips: int  # how many answers (clips and crops) it was fitted on
    ece_before: float
    ece_after: float
    crops_ece_before: float | None = None
    crops_ece_after: float | None = None

    def __post_init__(self) -> None:
        if self.slope < 0:
            raise ValueError("the familiarity slope cannot narrow the temperature")

    def factor(self, distance: float) -> float:
        """What a song's answer at ``distance`` is softened by (a second temperature, 1: as it is)."""
        return float(softening_factors(self.slope, distance))


@dataclass(frozen=True)
class Calibration:
    """The temperature dividing the logits, fitted inside the training folds only, and the
    expected calibration error (10 equal bins of the top probability) before and after it;
    with ``short_clips``, a song shorter than the clips gets a temperature between the two;
    with ``familiarity``, the answer to a song unlike the training music is softened."""

    method: str
    temperature: float
    ece_before: float
    ece_after: float
    short_clips: ShortClipCalibration | None = None
    familiarity: FamiliarityCalibration | None = None

    def temperature_for(self, duration_s: float) -> float:
        """The temperature for a song of ``duration_s``: the crops' up to their length, the clips'
        from theirs, and in between interpolated on a log scale of both (a song's windows grow
        with its length)."""
        short = self.short_clips
        if short is None or duration_s >= short.clip_length_s:
            return self.temperature
        if duration_s <= short.length_s:
            return short.temperature
        share = math.log(duration_s / short.length_s) / math.log(short.clip_length_s / short.length_s)
        return math.exp((1 - share) * math.log(short.temperature) + share * math.log(self.temperature))

    def softening_for(self, distance: float | None) -> float:
        """What the answer to a song at ``distance`` from the training music is softened by
        (:meth:`FamiliarityCalibration.factor`; 1 without ``familiarity`` or a measured distance)."""
        return 1.0 if self.familiarity is None or distance is None else self.familiarity.factor(distance)


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold figures on artist-disjoint folds (docs/DESIGN.md's ``cv``)."""

    folds: list[int]
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassScores]
    confusion: list[list[int]]  # rows: true mood, columns: predicted, in MOODS order
    per_fold_macro_f1: dict[str, float] = field(default_factory=dict)
    confidence: dict[str, Reliability] = field(default_factory=dict)
    calibration: Calibration | None = None

    def __post_init__(self) -> None:
        if set(self.per_class) != set(MOODS):
            raise ValueError(f"per_class must cover exactly {list(MOODS)}")
        if len(self.confusion) != len(MOODS) or any(len(row) != len(MOODS) for row in self.confusion):
            raise ValueError(f"confusion must be {len(MOODS)} x {len(MOODS)}")


@dataclass(frozen=True)
class Transfer:
    """Figures on music from another collection, never trained on (docs/DESIGN.md's ``transfer``),
    judged as the app judges a song: quadrant macro-F1 and accuracy, Spearman rho of the answers'
    valence and arousal with the listeners' ratings, ECE (10 bins) and each confidence level's accuracy."""

    collection: str
    clips: int
    macro_f1: float
    accuracy: float
    valence_rho: float
    arousal_rho: float
    ece: float
    confidence: dict[str, Reliability] = field(default_factory=dict)


@dataclass(frozen=True)
class Pretrained:
    """Where a network's pretrained weights came from (a package registry, with its licence)."""

    package: str
    version: str
    model: str  # which of the package's networks (comma-separated when several)
    licence: str
    authors: str
    trained_on: str
    files: dict[str, str]  # file in the package -> its sha256
    copyright: str = ""
    wheel_sha256: str | None = None


@dataclass(frozen=True)
class OnnxExport:
    """The network's ONNX export beside its `.pt`: the file in the weights folder, its sha256, its opset."""

    file: str
    sha256: str
    opset: int


@dataclass(frozen=True)
class NetworkManifest:
    """A network's `.json`: how to rebuild it, what it hears, and how well it did."""

    name: str
    architecture: str
    architecture_config: ArchitectureConfig = field(metadata={TYPE_NAMED_BY: ("architecture", ARCHITECTURE_CONFIGS)})
    labels: list[str]
    features: FrontEnd
    params: int
    sha256: str
    created: str
    trained_on: str = ""
    cv: CrossValidation | None = None
    pretrained: Pretrained | None = None  # where its pretrained weights came from
    recipe: dict[str, Any] = field(default_factory=dict)
    onnx: OnnxExport | None = None  # what serving runs (mood.engine.serving); None: torch only
    transfer: Transfer | None = None  # measured on another collection (python -m mood.training transfer)

    def __post_init__(self) -> None:
        expected = ARCHITECTURE_CONFIGS.get(self.architecture)
        if expected is None:
            raise ValueError(
                f"the architecture {self.architecture!r} is unknown; known: {', '.join(ARCHITECTURE_CONFIGS)}"
            )
        if not isinstance(self.architecture_config, expected):
            raise ValueError(f"architecture_config must be a {expected.__name__} for {self.architecture!r}")

    def temperature_for(self, duration_s: float) -> float:
        """What the logits are divided by for a song of ``duration_s`` (1 when not calibrated)."""
        return self.cv.calibration.temperature_for(duration_s) if self.cv and self.cv.calibration else 1.0

    def softening_for(self, distance: float | None) -> float:
        """What the answer to a song at ``distance`` from the training music is softened by."""
        return softening_of(self.cv, distance)


@dataclass(frozen=True)
class Stacking:
    """A stacked ensemble's meta-learner: a multinomial logistic regression on the members'
    window log-probabilities (each member's moods in turn, in ``members`` order), fitted on
    their out-of-fold answers (docs/DESIGN.md, "Stacked ensemble")."""

    coefficients: list[list[float]]  # (n_moods, n_members * n_moods)
    intercepts: list[float]  # (n_moods,)
    regularisation: float  # scikit-learn's C it was fitted with

    def __post_init__(self) -> None:
        widths = {len(row) for row in self.coefficients}
        if len(self.coefficients) != len(self.intercepts) or len(widths) != 1:
            raise ValueError("coefficients must have one row of equal length per intercept")

    @property
    def arrays(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The coefficients ``(n_moods, n_inputs)`` and the intercepts ``(n_moods,)`` as arrays."""
        return np.asarray(self.coefficients, dtype=np.float64), np.asarray(self.intercepts, dtype=np.float64)


@dataclass(frozen=True)
class SharedExport:
    """One ONNX graph serving two members that hear the same pretrained patches (docs/DESIGN.md):
    the fine-tuned ``network``'s logits (output ``logits``) and the ``hybrid``'s frozen patch
    outputs (output ``patch_outputs``), each patch's front and mid ends computed once."""

    file: str
    sha256: str
    opset: int
    network: str
    hybrid: str


@dataclass(frozen=True)
class EnsembleManifest:
    """The ensemble's `.json`: its members and how their probabilities are combined."""

    name: str
    members: list[str]
    created: str = ""
    combination: Combination = "mean"
    weights: list[float] = field(default_factory=list)  # one per member, for "weighted"
    stacking: Stacking | None = None  # the meta-learner, for "stacked"
    shared_export: SharedExport | None = None  # one graph for two members (None: each its own)
    cv: CrossValidation | None = None
    transfer: Transfer | None = None  # measured on another collection (python -m mood.training transfer)

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("an ensemble needs members")
        if self.combination == "weighted" and len(self.weights) != len(self.members):
            raise ValueError("weights must give one weight per member")
        if self.combination == "stacked":
            if self.stacking is None:
                raise ValueError("a stacked ensemble needs its stacking block")
            if len(self.stacking.coefficients[0]) != len(self.members) * len(self.stacking.intercepts):
                raise ValueError("the stacking coefficients must have one column per member and mood")
        shared = self.shared_export
        if shared is not None and not (
            shared.network in self.members
            and shared.hybrid in self.members
            and self.members.index(shared.network) < self.members.index(shared.hybrid)
        ):
            raise ValueError("the shared export must serve a member network listed before a member hybrid")

    def temperature_for(self, duration_s: float) -> float:
        """What the combined probabilities' logarithms are divided by for a song of ``duration_s``
        (1 when not calibrated)."""
        return self.cv.calibration.temperature_for(duration_s) if self.cv and self.cv.calibration else 1.0

    def softening_for(self, distance: float | None) -> float:
        """What the answer to a song at ``distance`` from the training music is softened by."""
        return softening_of(self.cv, distance)

    @property
    def member_weights(self) -> list[float]:
        """Each member's share of the combined probabilities (they sum to 1)."""
        raw = self.weights if self.combination == "weighted" else [1.0] * len(self.members)
        return [w / sum(raw) for w in raw]


@dataclass(frozen=True, kw_only=True)
class HybridManifest(NetworkManifest):
    """The hybrid member's `.json`: a network manifest whose `.pt` is a clip-level head (scalers,
    coefficients, intercepts) on musicnn's clip statistics (heard through ``features`` by the
    ``pretrained`` backbones) and the musical features of ``musical``, columns named by ``feature_names``."""

    architecture_config: HybridLogisticConfig  # type: ignore[assignment]  # a head's config, not a network's
    musical: MusicalConfig
    feature_names: list[str]

    def __post_init__(self) -> None:
        if self.architecture not in HEAD_CONFIGS:
            raise ValueError(f"the architecture {self.architecture!r} is not a head; known: {', '.join(HEAD_CONFIGS)}")
        if len(self.feature_names) != self.architecture_config.n_features:
            raise ValueError("feature_names must name every one of the head's n_features columns")


Manifest = NetworkManifest | EnsembleManifest


def softening_of(cv: CrossValidation | None, distance: float | None) -> float:
    """:meth:`Calibration.softening_for` of ``cv``'s calibration (1 when not calibrated)."""
    return cv.calibration.softening_for(distance) if cv and cv.calibration else 1.0


def row_shares(confusion: list[list[int]]) -> npt.NDArray[np.float64]:
    """A confusion matrix as the share of each true mood's clips (a mood with no clips: zeros)."""
    counts = np.asarray(confusion, dtype=np.float64)
    shares: npt.NDArray[np.float64] = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    return shares


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``.

    Raises:
        ModelError: it is missing, unreadable or not a JSON object.
    """
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"The manifest {path.name} is missing; restore it from the repository.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"The manifest {path.name} is corrupt ({e}); restore it from the repository.") from e
    if not isinstance(data, dict):
        raise ModelError(f"The manifest {path.name} is not a JSON object; restore it from the repository.")
    return data


def parse_manifest(data: dict[str, Any], source: str) -> Manifest:
    """Validate a manifest's fields into its dataclass.

    Args:
        data: the decoded JSON object.
        source: the file it came from, for messages.

    Raises:
        ModelError: a field is missing or of the wrong type; the message names the file and the field.
    """
    cls: type[Manifest] = EnsembleManifest if "members" in data else NetworkManifest
    if data.get("architecture") in HEAD_CONFIGS:
        cls = HybridManifest
    return parse(cls, data, source, "")


def read_manifest_file(path: Path) -> Manifest:
    """:func:`parse_manifest` of the file at ``path``."""
    return parse_manifest(read_json(path), path.name)


def manifest_dict(manifest: Manifest) -> dict[str, Any]:
    """The JSON object of a manifest (None fields left out)."""
    return {k: v for k, v in dataclasses.asdict(manifest).items() if v is not None}


def parse(cls: type[T], data: Any, source: str, where: str) -> T:
    """Build dataclass ``cls`` from ``data``, checking each field against its type hint."""
    if not isinstance(data, dict):
        raise ModelError(f"In {source}, {where or 'the manifest'} must be an object.")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        path = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            hint = _named_type(f, values, source, path) if TYPE_NAMED_BY in f.metadata else hints[f.name]
            values[f.name] = _convert(hint, data[f.name], source, path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ModelError(f"In {source}, the field {path!r} is missing; restore the file from the repository.")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise ModelError(f"In {source}, {where or 'the manifest'} is invalid: {e}.") from e


def _named_type(f: dataclasses.Field[Any], values: dict[str, Any], source: str, path: str) -> type:
    """The class that the sibling field named in ``f``'s :data:`TYPE_NAMED_BY` metadata picks."""
    sibling, classes = f.metadata[TYPE_NAMED_BY]
    name = values.get(sibling)
    if name not in classes:
        raise ModelError(
            f"In {source}, {path!r} belongs to the {sibling} {name!r}, which this version of mood does not know "
            f"(known: {', '.join(classes)})."
        )
    named: type = classes[name]
    return named


def _convert(hint: Any, value: Any, source: str, path: str) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, source, path)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return parse(hint, value, source, path)
    if origin is Literal:
        if value not in args:
            raise ModelError(f"In {source}, the field {path!r} must be one of {list(args)}, not {value!r}.")
        return value
    if origin is list:
        _expect(isinstance(value, list), source, path, "a list")
        return [_convert(args[0], v, source, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        return _convert_tuple(args, value, source, path)
    if origin is dict:
        _expect(isinstance(value, dict), source, path, "an object")
        return {k: _convert(args[1], v, source, f"{path}.{k}") for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float:
        _expect(isinstance(value, (int, float)) and not isinstance(value, bool), source, path, "a number")
        return float(value)
    _expect(isinstance(value, hint) and not (hint is int and isinstance(value, bool)), source, path, hint.__name__)
    return value


def _convert_tuple(args: tuple[Any, ...], value: Any, source: str, path: str) -> tuple[Any, ...]:
    """A JSON list as ``tuple[X, ...]`` (any length) or ``tuple[X, Y]`` (exactly that many)."""
    _expect(isinstance(value, list), source, path, "a list")
    if len(args) == 2 and args[1] is Ellipsis:
        args = (args[0],) * len(value)
    _expect(len(value) == len(args), source, path, f"a list of {len(args)}")
    return tuple(_convert(a, v, source, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))


def _expect(ok: bool, source: str, path: str, what: str) -> None:
    if not ok:
        raise ModelError(f"In {source}, the field {path!r} must be {what}; restore the file from the repository.")
