"""The pretrained member: musicnn taggers (Pons & Serra) with fine-tuned back ends and a mood head.

Two ported musicnn networks, one pretrained on the Million Song Dataset and one on
MagnaTagATune, hear the same 3 s patch. Each one's front and mid end (pretrained, frozen
in training) pool the patch into a vector; each one's back end (pretrained, fine-tuned on
4Q) turns that into its 200-d "penultimate" embedding and its 50 tag logits; a new head
maps all four to the moods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from mood.engine.architectures import MusicnnMoodConfig
from mood.engine.models.musicnn import Musicnn


class MusicnnMood(nn.Module):
    """musicnn (MSD) + musicnn (MTT) -> [embedding, tag logits] of each -> batch norm -> linear."""

    def __init__(self, n_mels: int, n_classes: int, config: MusicnnMoodConfig | None = None) -> None:
        super().__init__()
        config = MusicnnMoodConfig() if config is None else config
        self.config = config
        musicnns = [Musicnn(n_mels, config.n_tags, config.backbone) for _ in config.backbones]
        self.backbones = nn.ModuleList(musicnns)
        width = sum(b.embedding_dim + config.n_tags for b in musicnns)
        self.head = nn.Sequential(nn.BatchNorm1d(width), nn.Dropout(config.head_dropout), nn.Linear(width, n_classes))

    def musicnns(self) -> list[Musicnn]:
        """The backbones, in ``config.backbones`` order."""
        return [cast(Musicnn, b) for b in self.backbones]

    def pooled(self, mel: torch.Tensor) -> torch.Tensor:
        """The frozen part: each backbone's pooled patch, shape ``(batch, n_backbones, pooled_dim)``."""
        return torch.stack([b.pooled(mel) for b in self.musicnns()], dim=1)

    def patch_outputs_from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """Each backbone's back end on :meth:`pooled`'s output: its embedding then its tag logits,
        shape ``(batch, n_backbones, embedding_dim + n_tags)`` (the hybrid's per-patch outputs)."""
        outputs = []
        for i, backbone in enumerate(self.musicnns()):
            embedding = backbone.back_end(pooled[:, i])
            outputs.append(torch.cat([embedding, backbone.output(embedding)], dim=1))
        return torch.stack(outputs, dim=1)

    def from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """The trained part: mood logits ``(batch, n_classes)`` from :meth:`pooled`'s output."""
        features: list[torch.Tensor] = []
        for i, backbone in enumerate(self.musicnns()):
            embedding = backbone.back_end(pooled[:, i])
            features += [embedding, backbone.output(embedding)]
        logits: torch.Tensor = self.head(torch.cat(features, dim=1))
        return logits

    def trained_parameters(self) -> Sequence[nn.Parameter]:
        """What fine-tuning changes: the back ends and the head (the front and mid ends stay)."""
        back_ends = [p for b in self.musicnns() for m in b.back_end_modules() for p in m.parameters()]
        return [*back_ends, *self.head.parameters()]

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Mood logits ``(batch, n_classes)`` for patches ``(batch, n_mels, n_frames)``."""
        return self.from_pooled(self.pooled(mel))


class FrozenPooled(nn.Module):
    """The backbones' frozen front and mid ends as one graph to export (what the training cache
    keeps of each patch): ``(batch, n_mels, n_frames)`` -> ``(batch, n_backbones, pooled_dim)``."""

    def __init__(self, backbones: MusicnnMood) -> None:
        super().__init__()
        self.backbones = backbones

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """The pooled vectors of ``mel`` patches."""
        return self.backbones.pooled(mel)


class FrozenPatchOutputs(nn.Module):
    """What the hybrid member hears of each patch, as one graph to export: the backbones' frozen
    features rounded to float16 (as the training cache keeps them), then
    :meth:`MusicnnMood.patch_outputs_from_pooled`: ``(batch, n_mels, n_frames)`` ->
    ``(batch, n_backbones, embedding_dim + n_tags)``."""

    def __init__(self, backbones: MusicnnMood) -> None:
        super().__init__()
        self.backbones = backbones

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """The per-patch outputs of ``mel`` patches."""
        pooled = self.backbones.pooled(mel).half().float()
        outputs: torch.Tensor = self.backbones.patch_outputs_from_pooled(pooled)
        return outputs


def frozen_state(model: MusicnnMood) -> dict[str, torch.Tensor]:
    """The weights fine-tuning never changes: each backbone's layers outside its back end."""
    state: dict[str, torch.Tensor] = {}
    for i, backbone in enumerate(model.musicnns()):
        back_end = {id(m) for m in backbone.back_end_modules()}
        for child_name, child in backbone.named_children():
            if id(child) not in back_end:
                state |= {f"{i}.{child_name}.{key}": value for key, value in child.state_dict().items()}
    return state


class SharedPatchAnswers(nn.Module):
    """The fine-tuned member and the hybrid's frozen backbones as one graph: their front and
    mid ends are the same pretrained weights, so each patch is pooled once, then read by the
    member's back ends and head (``logits``) and by the released back ends
    (:class:`FrozenPatchOutputs`' ``patch_outputs``, from the pooled features rounded to float16).

    Raises:
        ValueError: the two do not share their front and mid ends.
    """

    def __init__(self, tuned: MusicnnMood, frozen: MusicnnMood) -> None:
        super().__init__()
        mine, theirs = frozen_state(tuned), frozen_state(frozen)
        if mine.keys() != theirs.keys() or any(not torch.equal(mine[k], theirs[k]) for k in mine):
            raise ValueError("the fine-tuned member's front and mid ends differ from the frozen backbones'")
        self.tuned = tuned
        self.frozen = frozen

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The member's mood logits ``(batch, n_classes)`` and the frozen patch outputs of ``mel`` patches."""
        pooled = self.tuned.pooled(mel)
        logits = self.tuned.from_pooled(pooled)
        patch_outputs = self.frozen.patch_outputs_from_pooled(pooled.half().float())
        return logits, patch_outputs
