"""Cross-validated figures (docs/DESIGN.md's `cv` block) and their confusion-matrix figure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from mood.constants import MOOD_DISPLAY_NAMES, MOODS
from mood.engine.inference import confidence_level
from mood.engine.manifest import CONFIDENCE_LEVELS, CrossValidation, Reliability, row_shares


def cv_metrics(true: npt.NDArray[np.int_], predicted: npt.NDArray[np.int_], folds: list[int]) -> dict[str, Any]:
    """The manifest's ``cv`` block for pooled out-of-fold predictions.

    Args:
        true: true mood indices, one per clip.
        predicted: predicted mood indices, one per clip.
        folds: the folds that were held out.
    """
    labels = list(range(len(MOODS)))
    precision, recall, f1, _ = precision_recall_fscore_support(true, predicted, labels=labels, zero_division=0)
    return {
        "folds": sorted(folds),
        "accuracy": round(float(accuracy_score(true, predicted)), 4),
        "macro_f1": round(float(f1_score(true, predicted, labels=labels, average="macro", zero_division=0)), 4),
        "per_class": {
            mood: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4)}
            for mood, p, r, f in zip(MOODS, precision, recall, f1, strict=True)
        },
        "confusion": confusion_matrix(true, predicted, labels=labels).tolist(),
    }


def per_fold_macro_f1(
    true: npt.NDArray[np.int_], predicted: npt.NDArray[np.int_], clip_folds: npt.NDArray[np.int_]
) -> dict[str, float]:
    """Macro-F1 of each held-out fold alone (to show how much figures swing between folds)."""
    return {
        str(fold): round(float(f1_score(true[clip_folds == fold], predicted[clip_folds == fold], average="macro")), 4)
        for fold in sorted(set(clip_folds.tolist()))
    }


def confidence_reliability(
    true: npt.NDArray[np.int_], probabilities: npt.NDArray[np.float32]
) -> dict[str, dict[str, Any]]:
    """How often each plain-words confidence level (clear, leaning, mixed) was right.

    Args:
        true: true mood indices, one per clip.
        probabilities: each clip's out-of-fold probabilities, shape ``(n_clips, n_moods)``.

    Returns:
        For each level: ``clips`` that got it, and the ``accuracy`` on them (None for no clips).
    """
    levels = np.array([confidence_level(row) for row in probabilities])
    correct = probabilities.argmax(axis=1) == true
    return {
        level: {
            "clips": int((levels == level).sum()),
            "accuracy": round(float(correct[levels == level].mean()), 4) if (levels == level).any() else None,
        }
        for level in CONFIDENCE_LEVELS
    }


def plot_confusions(cvs: dict[str, CrossValidation], path: Path) -> None:
    """Save one row-normalised confusion matrix per model, side by side, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(cvs)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.2), squeeze=False)
    ticks = [MOOD_DISPLAY_NAMES[m].split(" / ")[0] for m in MOODS]
    for ax, name in zip(axes[0], names, strict=True):
        shares = row_shares(cvs[name].confusion)
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(MOODS)):
            for j in range(len(MOODS)):
                colour = "white" if shares[i, j] > 0.5 else "black"
                ax.text(j, i, f"{shares[i, j]:.0%}", ha="center", va="center", color=colour, fontsize=10)
        ax.set_xticks(range(len(MOODS)), ticks)
        ax.set_yticks(range(len(MOODS)), ticks)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{name}: macro-F1 {cvs[name].macro_f1:.3f}")
    fig.suptitle("5-fold artist-disjoint cross-validation on 4Q (rows: true mood)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cv_markdown(cvs: dict[str, CrossValidation]) -> str:
    """The cross-validated figures of several models as Markdown: a summary table, then a
    per-class table and a confusion matrix (counts; rows true, columns predicted) for each."""
    lines = [
        "| model | macro-F1 | accuracy | " + " | ".join(f"F1 {m}" for m in MOODS) + " | macro-F1 per fold |",
        "|---|---|---|" + "---|" * len(MOODS) + "---|",
    ]
    for name, cv in cvs.items():
        per_fold = ", ".join(f"{v:.3f}" for v in cv.per_fold_macro_f1.values())
        f1s = " | ".join(f"{cv.per_class[m].f1:.3f}" for m in MOODS)
        lines.append(f"| {name} | **{cv.macro_f1:.3f}** | {cv.accuracy:.3f} | {f1s} | {per_fold} |")
    if all(cv.confidence for cv in cvs.values()):
        lines += _table(
            "How often each confidence level was right (clips that got it, and their accuracy)",
            ("model", *CONFIDENCE_LEVELS),
            [
                [name, *(_reliability_cell(cv.confidence[level]) for level in CONFIDENCE_LEVELS)]
                for name, cv in cvs.items()
            ],
        )
    calibrated = {name: cv.calibration for name, cv in cvs.items() if cv.calibration}
    if calibrated:
        lines += _table(
            "Calibration: expected calibration error of the top probability (10 bins)",
            ("model", "temperature", "ECE before", "ECE after"),
            [
                [name, f"{c.temperature:.2f}", f"{c.ece_before:.3f}", f"{c.ece_after:.3f}"]
                for name, c in calibrated.items()
            ],
        )
    short = {name: c.short_clips for name, c in calibrated.items() if c.short_clips}
    if short:
        lines += _table(
            "Short songs: each model's out-of-fold answers to short crops of the held-out clips",
            ("model", "crops", "macro-F1", "temperature", "ECE with the clips' temperature", "ECE after"),
            [
                [
                    name,
                    f"{sc.clips} of {sc.length_s:g} s",
                    f"{sc.macro_f1:.3f}",
                    f"{sc.temperature:.2f}",
                    *_numbers(sc.ece_clip_temperature, sc.ece_after),
                ]
                for name, sc in short.items()
            ],
        )
    familiar = {name: c.familiarity for name, c in calibrated.items() if c.familiarity}
    if familiar:
        lines += _table(
            "Songs unlike the training music: the answer softened with the hybrid's distance",
            ("model", "slope", "answers", "ECE before", "ECE after", "crops' ECE before", "crops' ECE after"),
            [
                [
                    name,
                    f"{f.slope:.3f}",
                    str(f.clips),
                    *_numbers(f.ece_before, f.ece_after, f.crops_ece_before, f.crops_ece_after),
                ]
                for name, f in familiar.items()
            ],
        )
    for name, cv in cvs.items():
        lines += ["", f"**{name}**: precision / recall / F1, and the confusion matrix", ""]
        lines += ["| true \\ predicted | " + " | ".join(MOODS) + " | precision | recall | F1 |"]
        lines += ["|---|" + "---|" * (len(MOODS) + 3)]
        for mood, row in zip(MOODS, cv.confusion, strict=True):
            s = cv.per_class[mood]
            counts = " | ".join(str(n) for n in row)
            lines.append(f"| {mood} | {counts} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} |")
    return "\n".join(lines) + "\n"


def _table(title: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """The Markdown lines of a titled table: a blank line, the title, a blank line, the header, the rows."""
    lines = ["", title, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _numbers(*values: float | None) -> list[str]:
    """Table cells of three decimals ("–" for a figure not measured)."""
    return ["–" if v is None else f"{v:.3f}" for v in values]


def _reliability_cell(entry: Reliability) -> str:
    accuracy = entry.accuracy
    return f"{entry.clips} clips, {accuracy:.0%} right" if accuracy is not None else f"{entry.clips} clips"


def valence_arousal(probabilities: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """docs/DESIGN.md's axes of each row of mood probabilities ``(n_clips, n_moods)``:
    valence happy + calm - angry - sad, arousal happy + angry - sad - calm."""
    happy, angry, sad, calm = (probabilities[:, MOODS.index(m)] for m in MOODS)
    return happy + calm - angry - sad, happy + angry - sad - calm
