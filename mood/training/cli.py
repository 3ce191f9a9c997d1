"""``python -m mood.training``: train, cross-validate, combine, measure and convert the models.

    python -m mood.training musicnn                           # fine-tune the pretrained member
    python -m mood.training scratch resnet18 --teacher musicnn --epochs 20
    python -m mood.training scratch cldnn --teacher musicnn --epochs 20
    python -m mood.training hybrid                            # the logistic head on cached clip features
    python -m mood.training calibrate musicnn                 # its temperatures again from its runs
    python -m mood.training ensemble                          # the combination, from the saved runs
    python -m mood.training transfer                          # figures on the Grekow set
    python -m mood.training export                            # the shipped models' ONNX graphs again
    python -m mood.training convert WHEEL --tf-python PYTHON  # musicnn's checkpoints -> mood/weights/backbones

Each subcommand carries only its own flags; the flags become a typed recipe and plan, and the
member modules (:mod:`mood.training.members`) never see the command line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mood.constants import ENSEMBLE, MODEL_NAMES
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, available_models
from mood.training import convert_musicnn
from mood.training.crops import DEFAULT_CROPS
from mood.training.cv import CVPlan, RunsMismatch, cross_validate_and_ship, recalibrate, run_path, teacher_from
from mood.training.dataset import read_clips
from mood.training.exports import reexport
from mood.training.hybrid_features import cache_crops, four_q
from mood.training.members.ensemble import (
    ABLATIONS_NAME,
    EnsemblePlan,
    default_combination,
    score_ensemble,
    write_ablations,
)
from mood.training.members.hybrid import HybridRecipe, hybrid_member
from mood.training.members.musicnn import MODEL_NAME as MUSICNN
from mood.training.members.musicnn import FinetuneRecipe, musicnn_member, pretrained_network
from mood.training.members.scratch import SCRATCH_ARCHITECTURES, ScratchRecipe, scratch_member
from mood.training.paths import ALL_FOLDS, DEFAULT_CACHE_DIR, DEFAULT_DATA_DIR, DEFAULT_DOCS_DIR, DEFAULT_RUNS_DIR
from mood.training.transfer import DEFAULT_GREKOW_DIR, transfer

TEACHERS = (MUSICNN,)  # members a scratch network can be distilled from


def folds_list(text: str) -> tuple[int, ...]:
    """``"0,1"`` -> ``(0, 1)``: two or more of the data set's folds (each held-out fold's
    temperature is fitted on the others)."""
    try:
        folds = tuple(int(f) for f in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"folds are comma-separated numbers such as 0,1,2, not {text!r}") from None
    if len(set(folds)) < 2 or not set(folds) <= set(ALL_FOLDS):
        raise argparse.ArgumentTypeError(
            f"give two or more folds of {','.join(map(str, ALL_FOLDS))} (each fold's calibration is fitted on the "
            f"others), not {text!r}"
        )
    return folds


def get_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m mood.training``, one subparser per subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m mood.training", description="Train, cross-validate, combine, measure and convert the models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scratch = commands.add_parser("scratch", help="train ResNet18 or CLDNN from scratch, cross-validated")
    scratch.add_argument("architecture", choices=SCRATCH_ARCHITECTURES)
    scratch.set_defaults(run=run_scratch)
    _add_recipe_flags(scratch, ScratchRecipe())
    scratch.add_argument(
        "--crops-per-clip", type=int, default=ScratchRecipe.crops_per_clip, help="random windows per clip per epoch"
    )
    scratch.add_argument("--no-augment", action="store_true", help="no gain, EQ or SpecAugment (for ablations)")
    scratch.add_argument(
        "--teacher", choices=TEACHERS, default=None,
        help="also learn this member's window probabilities (distillation; each fold's teacher is refitted here)",
    )  # fmt: skip
    _add_cv_flags(scratch)
    musicnn = commands.add_parser("musicnn", help="fine-tune the pretrained musicnn member, cross-validated")
    musicnn.set_defaults(run=run_musicnn)
    _add_recipe_flags(musicnn, FinetuneRecipe())
    musicnn.add_argument("--freeze-back-ends", action="store_true", help="train the mood head alone (for ablations)")
    _add_cv_flags(musicnn)
    hybrid = commands.add_parser("hybrid", help="the logistic head on musicnn statistics + musical features, CV'd")
    hybrid.set_defaults(run=run_hybrid)
    hybrid.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="the 4Q folder (with metadata.csv)")
    hybrid.add_argument(
        "--whole-clips-only", action="store_true", help="learn from whole clips alone, not their short crops (ablation)"
    )
    _add_cv_flags(hybrid)
    ensemble = commands.add_parser("ensemble", help="cross-validate the combination of the members' saved runs")
    ensemble.set_defaults(run=run_ensemble)
    ensemble.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="the 4Q folder (with metadata.csv)")
    ensemble.add_argument(
        "--members", type=lambda s: tuple(s.split(",")), default=None,
        help="the members, comma-separated (default: the ensemble's own members, else every model in --weights-dir)",
    )  # fmt: skip
    ensemble.add_argument(
        "--combination", choices=["weighted", "mean", "stacked"], default=None,
        help="weights fitted inside the training folds, a meta-learner on the --nested runs, or the plain mean "
        "(default: the ensemble's own, else weighted)",
    )  # fmt: skip
    ensemble.add_argument(
        "--ablations", action="store_true",
        help=f"write every combination of the members' figures to --docs-dir/{ABLATIONS_NAME} (ships nothing)",
    )  # fmt: skip
    ensemble.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where the members' runs are")
    ensemble.add_argument("--weights-dir", type=Path, default=SHIPPED_WEIGHTS_DIR)
    ensemble.add_argument("--docs-dir", type=Path, default=DEFAULT_DOCS_DIR, help="where the CV figure and tables go")
    grekow = commands.add_parser("transfer", help="measure the shipped models on the Grekow set (never trained on)")
    grekow.set_defaults(run=run_transfer)
    grekow.add_argument("--model", choices=MODEL_NAMES, action="append", help="default: every shipped model")
    grekow.add_argument("--data", type=Path, default=DEFAULT_GREKOW_DIR, help="the Grekow folder (with metadata.csv)")
    grekow.add_argument(
        "--docs-dir", type=Path, default=DEFAULT_DOCS_DIR, help="where the table goes (with every shipped model)"
    )
    calibrate = commands.add_parser(
        "calibrate", help="refit a trained model's temperatures and figures from its saved runs (no training)"
    )
    calibrate.set_defaults(run=run_calibrate)
    calibrate.add_argument("model", choices=[m for m in MODEL_NAMES if m != ENSEMBLE])
    calibrate.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="the 4Q folder (with metadata.csv)")
    calibrate.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where the model's runs are")
    calibrate.add_argument("--weights-dir", type=Path, default=SHIPPED_WEIGHTS_DIR)
    export = commands.add_parser("export", help="export the shipped models to ONNX again (no training)")
    export.set_defaults(run=run_export)
    export.add_argument("models", nargs="*", help=f"of {', '.join(MODEL_NAMES)} (default: every model in the folder)")
    export.add_argument("--weights-dir", type=Path, default=SHIPPED_WEIGHTS_DIR)
    _add_convert_parser(commands)
    return parser


def _add_recipe_flags(parser: argparse.ArgumentParser, defaults: ScratchRecipe | FinetuneRecipe) -> None:
    """The flags both training recipes have, with this recipe's defaults."""
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="the 4Q folder (with metadata.csv)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help=f"default: {defaults.epochs}")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--mixup", type=float, default=defaults.mixup_alpha, help="mixup alpha; 0 turns it off")
    parser.add_argument(
        "--ema-decay",
        type=float,
        default=defaults.ema_decay,
        help="weight averaging per step; 0 ships the last weights",
    )


def _add_cv_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of a cross-validated member: folds, caches, where runs and weights go."""
    parser.add_argument(
        "--folds", type=folds_list, default=ALL_FOLDS,
        help="held-out folds to cross-validate, comma-separated (default: 0,1,2,3,4)",
    )  # fmt: skip
    parser.add_argument("--no-final", action="store_true", help="cross-validate only; do not write weights")
    parser.add_argument(
        "--nested", action="store_true", help="also the inner runs a stacked ensemble needs (4 more fits per fold)"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where decoded spectrograms and features are kept"
    )
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where out-of-fold predictions go")
    parser.add_argument("--weights-dir", type=Path, default=SHIPPED_WEIGHTS_DIR)


def _add_convert_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    convert = commands.add_parser("convert", help="convert musicnn's TensorFlow checkpoints and prove the port")
    convert.set_defaults(run=run_convert)
    convert.add_argument("wheel", type=Path, help="musicnn-0.1.0-py3-none-any.whl, or the folder it was unzipped in")
    convert.add_argument("--out-dir", type=Path, default=convert_musicnn.DEFAULT_OUT_DIR, help="where .pt/.json go")
    convert.add_argument("--fixture", type=Path, default=convert_musicnn.DEFAULT_FIXTURE, help="the test fixture")
    convert.add_argument(
        "--models", type=lambda s: [n.strip() for n in s.split(",") if n.strip()],
        default=list(convert_musicnn.DEFAULT_MODELS), help="comma-separated checkpoint names",
    )  # fmt: skip
    convert.add_argument(
        "--tf-python", default=os.environ.get("MUSICNN_TF_PYTHON", sys.executable),
        help="a Python with requirements-convert.txt installed (default: $MUSICNN_TF_PYTHON, else this one)",
    )  # fmt: skip
    convert.add_argument("--threads", type=int, default=1, help="CPU threads for TensorFlow and torch")


def _cv_plan(args: argparse.Namespace) -> CVPlan:
    return CVPlan(
        folds=args.folds,
        runs_dir=args.runs_dir,
        weights_dir=args.weights_dir,
        final=not args.no_final,
        nested=args.nested,
    )


def run_scratch(args: argparse.Namespace) -> int:
    """``scratch``: a ResNet18 or CLDNN, from its flags."""
    recipe = ScratchRecipe(
        epochs=args.epochs, crops_per_clip=args.crops_per_clip, mixup_alpha=args.mixup, augment=not args.no_augment,
        ema_decay=args.ema_decay, seed=args.seed, teacher=args.teacher,
    )  # fmt: skip
    clips = read_clips(args.data)
    teacher_for = None
    if recipe.teacher == MUSICNN:
        # The teacher keeps its own recipe but the student's seed, mixup and weight averaging.
        teacher_recipe = FinetuneRecipe(mixup_alpha=recipe.mixup_alpha, ema_decay=recipe.ema_decay, seed=recipe.seed)
        teacher_for = teacher_from(musicnn_member(clips, teacher_recipe, args.cache_dir))
    cross_validate_and_ship(
        scratch_member(args.architecture, clips, recipe, args.cache_dir, teacher_for), _cv_plan(args)
    )
    return 0


def run_musicnn(args: argparse.Namespace) -> int:
    """``musicnn``: the fine-tuned member, from its flags."""
    recipe = FinetuneRecipe(
        epochs=args.epochs, mixup_alpha=args.mixup, freeze_back_ends=args.freeze_back_ends,
        ema_decay=args.ema_decay, seed=args.seed,
    )  # fmt: skip
    collection = four_q(args.data)
    backbones = pretrained_network()
    crops = cache_crops(collection, backbones[0], DEFAULT_CROPS, args.cache_dir)  # for short songs
    member = musicnn_member(collection.clips, recipe, args.cache_dir, crops, backbones)
    cross_validate_and_ship(member, _cv_plan(args))
    return 0


def run_hybrid(args: argparse.Namespace) -> int:
    """``hybrid``: the hybrid member from the feature cache (its Grekow figures: ``transfer``)."""
    recipe = HybridRecipe(crops=None) if args.whole_clips_only else HybridRecipe()
    cross_validate_and_ship(hybrid_member(four_q(args.data), args.cache_dir, recipe), _cv_plan(args))
    return 0


def run_ensemble(args: argparse.Namespace) -> int:
    """``ensemble``: the combination's figures and manifest."""
    combination = args.combination or default_combination(args.weights_dir)
    plan = EnsemblePlan(args.members, combination, args.runs_dir, args.weights_dir, args.docs_dir)
    try:
        if args.ablations:
            print(f"wrote {write_ablations(read_clips(args.data), plan)}")
        else:
            score_ensemble(read_clips(args.data), plan)
    except RunsMismatch as error:
        print(f"ensemble: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(
            f"ensemble: no saved run {error.filename}: cross-validate that member first "
            "(python -m mood.training <member> --no-final, with --nested for a stacked ensemble)",
            file=sys.stderr,
        )
        return 2
    return 0


def run_transfer(args: argparse.Namespace) -> int:
    """``transfer``: the Grekow table (for every shipped model: written to ``--docs-dir`` and each manifest)."""
    print(transfer(args.model or [], args.data, None if args.model else args.docs_dir))
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    """``calibrate``: a shipped model's ``cv`` block again from its runs; 2 when it has no run."""
    if not run_path(args.runs_dir, args.model).is_file():
        print(
            f"no run of {args.model} in {args.runs_dir}: cross-validate it first "
            f"(python -m mood.training {args.model} --no-final)",
            file=sys.stderr,
        )
        return 2
    recalibrate(args.model, read_clips(args.data), args.runs_dir, args.weights_dir)
    print(f"wrote {args.weights_dir / args.model}.json")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """``export``: each model's ONNX graph again, the ensemble's shared graph after its members."""
    present = available_models(args.weights_dir)
    names = args.models or [m for m in MODEL_NAMES if m in present]
    missing = sorted(set(names) - set(present))
    if missing or not present:
        there = f"; there: {', '.join(present)}" if present else ""
        print(f"no model {', '.join(missing or ['at all'])} in {args.weights_dir}{there}", file=sys.stderr)
        return 2
    for name in sorted(names, key=lambda m: m == ENSEMBLE):
        written = reexport(name, args.weights_dir)
        print(f"{name}: {written or 'no shared graph'}")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    """``convert``: the backbones and the test fixture; 1 when the port does not reproduce the original."""
    unknown = sorted(set(args.models) - set(convert_musicnn.DEFAULT_MODELS))
    if unknown:
        print(f"unknown models {unknown}; known: {', '.join(convert_musicnn.DEFAULT_MODELS)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        convert_musicnn.convert(args.wheel, args.models, args.out_dir, args.fixture, args.tf_python, args.threads)
    except convert_musicnn.ConversionError as error:
        print(f"conversion failed: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out_dir} and {args.fixture} in {time.monotonic() - started:.0f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m mood.training``; the exit status."""
    args = get_parser().parse_args(argv)
    status: int = args.run(args)
    return status
