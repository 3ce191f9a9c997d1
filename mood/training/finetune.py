"""Moved to :mod:`mood.training.members.musicnn` (the fine-tuned member).

Only these re-exports are left, for code written before the training spine that still imports
them (mood/training/hybrid_features.py, tests/test_app.py). Import from
``mood.training.members.musicnn`` instead; this module goes once they do.
"""

from mood.training.members.musicnn import (
    FINETUNE_FRONT_END,
    FinetuneRecipe,
    load_pooled,
    pretrained_network,
    score_pooled,
    train_head,
)

__all__ = ["FINETUNE_FRONT_END", "FinetuneRecipe", "load_pooled", "pretrained_network", "score_pooled", "train_head"]
