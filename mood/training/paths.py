"""Where training reads and writes by default, and the one name of the training set."""

from __future__ import annotations

from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_DIR.parent / "shared" / "data" / "4q"
DEFAULT_CACHE_DIR = REPO_DIR / ".cache"  # mel/ spectrograms, musicnn/ frozen features, musical/, crops/
DEFAULT_RUNS_DIR = REPO_DIR / "runs"  # out-of-fold predictions, <model>_oof.npz
DEFAULT_DOCS_DIR = REPO_DIR / "docs"  # the CV figure and tables
MEL_CACHE = "mel"
MUSICNN_CACHE = "musicnn"  # the musicnn member's and the hybrid's frozen features (the same pooled patches)
MUSICAL_CACHE = "musical"  # the hybrid's musical features, per collection
CROPS_CACHE = "crops"  # the hybrid's features of short crops of the training clips
ALL_FOLDS = (0, 1, 2, 3, 4)
TRAINING_SET = "4Q audio emotion dataset (Panda et al. 2018), 900 clips, 30 s previews"
"""What every mood model is trained on (its manifest's ``trained_on``)."""
