"""The training wing, one command: ``python -m mood.training scratch|musicnn|ensemble|transfer|convert``.

- `cli`: the command; each subcommand's flags become a typed recipe and plan.
- `loop`: the one seeded training loop (optimiser groups, one-cycle schedule, EMA, mixup,
  distillation, finite-loss check, progress) every torch member goes through.
- `cv`: folds, scoring as the app scores, calibration, teachers, and the member interface
  (:class:`mood.training.cv.Member`) every kind of member implements.
- `members/`: one module per kind of member: `scratch` (ResNet18, CLDNN), `musicnn` (the
  fine-tuned pretrained member), `ensemble` (the combination of the members' runs).
- `dataset` (the 4Q clips, cached spectrograms, augmentation), `runs` (out-of-fold logits),
  `calibration`, `evaluation` (figures and tables), `paths` (default folders), `transfer`
  (the Grekow figures), `convert_musicnn` (the pretrained weights and the proof of the port).
- `train`, `finetune`: re-exports only, for code written before this layout (to be removed).
"""
