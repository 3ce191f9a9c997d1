"""Moved: training runs through ``python -m mood.training`` (:mod:`mood.training.cli`).

Only these re-exports are left, for code written before the training spine that still imports
them (mood/training/hybrid_features.py, bench/robustness.py). Import from
``mood.training.paths`` instead; this module goes once they do.
"""

from mood.training.paths import DEFAULT_DATA_DIR, REPO_DIR

__all__ = ["DEFAULT_DATA_DIR", "REPO_DIR"]
