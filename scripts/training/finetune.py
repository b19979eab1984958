"""Fine-tune the last stage(s) of the backbone and a breed head on the official train split.

    python -m scripts.training.finetune [IMAGES] [--arch auto] [--mode auto] [--resume]

The same recipe for ResNet-152 and the offline backbone (``--arch``, default ``ENCODER_ARCH``):
it starts from ImageNet weights; the trunk stays frozen, and a copy of the last
``--train-stages`` stages learns with a 120-way head that starts as the ImageNet classifier's
breed rows (:class:`encoder.tuned.TunedNet`; the ImageNet tail is kept for the dog score).

- Data: the official **train** split only (the test split is never read; a test-split photo
  stops the run), of which ``--val-share`` of each breed (by the hash of the file name)
  validates: epochs, early stopping and the recipe are chosen on it.
- ``--mode cached`` (default on CPU): the trunk runs once over ``--views`` views of each photo
  (:mod:`scripts.training.feature_cache`), then the tail trains on the stored outputs
  (:mod:`scripts.training.cached`). ``end-to-end`` (default on CUDA, with AMP): augmented
  photos through the whole network every step (:mod:`scripts.training.end_to_end`).
- At the end, the share of the ImageNet breed belief and the look part of the vector are
  chosen on validation, then the checkpoint the encoder loads with ``ENCODER_CHECKPOINT`` is
  written (``<out>.last.pt`` lets ``--resume`` continue an end-to-end run). Progress bars show
  images/s; a non-finite loss stops the run and nothing diverged is saved.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import sys
import time
from pathlib import Path

import torch

from encoder.backbones import Built, get_backbone, names
from encoder.checkpoint import WeightsUnavailable, save_checkpoint
from encoder.config import EncoderSettings
from encoder.model import (
    RANDOM_SEED,
    build_backbone,
    build_pretrained_backbone,
    choose_device,
    tuned_net,
)
from encoder.tuned import TunedNet
from scripts.training.cached import CachedOptions, choose_recipe, train_on_cache
from scripts.training.end_to_end import prepare, train_epochs
from scripts.training.feature_cache import trunk_features
from scripts.training.labelled_images import (
    add_dataset_arguments,
    class_names_for,
    lists_folder,
    select_files,
)
from scripts.training.trainer import NonFiniteLoss
from services.dataset import ImageFile, breed_key, load_split
from services.files import NotWritable, check_writable
from services.logs import configure_logging

log = logging.getLogger("finetune")


def initial_backbone(arch: str, weights: str, seed: int) -> tuple[str, Built]:
    """The backbone and its ImageNet classifier, with ImageNet weights or seeded random ones
    (``random``: reproducible, for tests only). ``auto`` resolves as the encoder resolves it;
    returns the arch actually built."""
    if weights != "random":
        return build_pretrained_backbone(arch)
    arch = "resnet152" if arch == "auto" else arch
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return arch, build_backbone(arch, pretrained=False)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    encoder = EncoderSettings()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Defaults come from SEARCH_API_DATASET_ROOT, ENCODER_ARCH and ENCODER_WEIGHTS.",
    )
    add_dataset_arguments(parser)
    parser.add_argument(
        "--arch",
        choices=["auto", *names()],
        default=encoder.arch,
        help="backbone (default ENCODER_ARCH: %(default)s); auto = ResNet-152, else offline",
    )
    parser.add_argument(
        "--weights",
        choices=["imagenet", "random"],
        default="random" if encoder.weights == "random" else "imagenet",
        help="start from ImageNet (default); random is for plumbing tests only",
    )
    parser.add_argument(
        "--train-stages",
        type=int,
        help="last stages that learn (default: 1 for resnet152 = layer4, 2 for lite0 = "
        "blocks.6 and conv_head)",
    )
    parser.add_argument(
        "--mode",
        choices=["auto", "cached", "end-to-end"],
        default="auto",
        help="cached trunk outputs (auto on CPU) or whole-network steps (auto on CUDA)",
    )
    parser.add_argument("--views", type=int, default=3, help="cached views per photo")
    parser.add_argument("--cache-dir", type=Path, help="default: <out folder>/feature-cache")
    parser.add_argument("--val-share", type=float, default=0.15, help="of each breed")
    parser.add_argument(
        "--whole-val",
        type=Path,
        help="whole photos (a breed-folder dataset with official lists beside) whose train split "
        "also chooses the recipe, when the training photos are box crops (data/trainset)",
    )
    parser.add_argument(
        "--exclude-names",
        type=Path,
        help="a folder whose photo names --whole-val must leave out (the dev set)",
    )
    parser.add_argument("--patience", type=int, default=2, help="epochs without improvement")
    parser.add_argument(
        "--metric-loss",
        choices=["none", "multisimilarity"],
        default="none",
        help="add pytorch-metric-learning's loss on the tail's embedding (cached mode)",
    )
    parser.add_argument("--metric-weight", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    parser.add_argument("--lr", type=float, default=1e-4, help="the tail's learning rate")
    parser.add_argument("--head-lr", type=float, default=1e-4)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--warmup-epochs", type=float, default=1.0)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=1, help="DataLoader worker processes")
    parser.add_argument("--limit", type=int, help="train on a seeded sample of N images")
    parser.add_argument("--per-breed", type=int, help="at most N training images per breed")
    parser.add_argument("--val-limit", type=int, help="validate on a sample of N images")
    parser.add_argument("--max-steps", type=int, help="stop each epoch after N steps (smoke)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=default_out())
    parser.add_argument("--resume", action="store_true", help="continue from <out>.last.pt")
    parser.add_argument("--seed", type=int, default=RANDOM_SEED)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--find-data",
        action="store_true",
        help="make finetune: Stanford Dogs in data/stanford-dogs (downloaded if missing), else "
        "the training set that scripts.training.trainset builds in data/trainset",
    )
    return parser.parse_args(argv)


def find_data(data_dir: Path) -> Path | None:
    """The images ``make finetune`` trains on (it downloads Stanford Dogs first when neither
    is there), saying which; ``None`` when there are none."""
    stanford, built = data_dir / "stanford-dogs" / "Images", data_dir / "trainset" / "Images"
    if stanford.is_dir():
        print(f"training on Stanford Dogs, official train split: {stanford}")
        return stanford
    if built.is_dir():
        print(f"Stanford Dogs could not be downloaded: training on the set built in {built}")
        return built
    print(
        "error: no training photos: data/stanford-dogs could not be downloaded and "
        "data/trainset was not built (README, Fine-tune: python -m scripts.training.trainset)",
        file=sys.stderr,
    )
    return None


def split_validation(
    files: list[ImageFile], share: float
) -> tuple[list[ImageFile], list[ImageFile]]:
    """``(fit, validation)``: about ``share`` of each breed's photos, chosen by the hash of the
    file name (stable whatever else is added), validate; at least one per breed."""
    by_breed: dict[str, list[ImageFile]] = {}
    for file in files:
        by_breed.setdefault(file.breed, []).append(file)
    fit, val = [], []
    for breed_files in by_breed.values():
        ordered = sorted(breed_files, key=lambda f: hashlib.sha256(f.path.name.encode()).digest())
        cut = max(1, round(len(ordered) * share)) if len(ordered) > 1 else 0
        val += ordered[:cut]
        fit += ordered[cut:]
    key = lambda f: f.relative_path  # noqa: E731
    return sorted(fit, key=key), sorted(val, key=key)


class TestSplitRefused(SystemExit):
    """A photo of the official test split was selected: it is for measuring, never training."""


def select_data(args: argparse.Namespace) -> tuple[list[ImageFile], list[ImageFile], list[str]]:
    """Training and validation files, both from the official **train** split only (the test
    split is never read), and the class names."""
    args.lists = lists_folder(args.images, args.lists)
    split = load_split(args.lists) if args.lists else {}
    files = select_files(
        args.images, args.lists, "train" if split else None, args.limit, args.per_breed, args.seed
    )
    leaked = [f.relative_path for f in files if split.get(f.relative_path) == "test"]
    if leaked:
        raise TestSplitRefused(f"test-split photos selected for training: {leaked[:3]}")
    fit, val = split_validation(files, args.val_share)
    if args.val_limit and args.val_limit < len(val):
        val = sorted(
            random.Random(args.seed).sample(val, args.val_limit), key=lambda f: f.relative_path
        )
    return fit, val, class_names_for(files)


def default_out() -> Path:
    """Under the data folder, where ``make up`` looks for a checkpoint."""
    from services.settings import StorageSettings

    return StorageSettings().dataset_root.parent.parent / "checkpoints" / "finetuned.pt"


def labels_of(files: list[ImageFile], class_names: list[str]) -> list[int]:
    index = {breed_key(name): i for i, name in enumerate(class_names)}
    return [index[breed_key(f.breed)] for f in files]


def train_cached(args, net: TunedNet, files, class_names, device) -> tuple[list, object]:
    fit, val = files
    fit_cache = trunk_features(
        net.trunk,
        args.arch,
        args.train_stages,
        fit,
        labels_of(fit, class_names),
        views=args.views,
        cache_dir=args.cache_dir,
        device=device,
        workers=args.workers,
        seed=args.seed,
        progress=not args.no_progress,
        desc="trunk (training views)",
    )
    val_cache = view_cache(args, net, val, class_names, device, "trunk (validation)")
    options = CachedOptions(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        head_lr=args.head_lr,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        metric_loss=args.metric_loss,
        metric_weight=args.metric_weight,
        patience=args.patience,
        seed=args.seed,
        progress=not args.no_progress,
    )
    history = train_on_cache(net, fit_cache, val_cache, options)
    return history, val_cache


def view_cache(args, net: TunedNet, files, class_names: list[str], device, desc: str):
    """The cached trunk outputs of the encoder's own view of ``files`` (for validation)."""
    return trunk_features(
        net.trunk,
        args.arch,
        args.train_stages,
        files,
        labels_of(files, class_names),
        views=1,
        cache_dir=args.cache_dir,
        device=device,
        workers=args.workers,
        seed=args.seed,
        progress=not args.no_progress,
        desc=desc,
    )


def whole_validation(args, net: TunedNet, class_names: list[str], device) -> list:
    """The ``--whole-val`` set's cached trunk outputs, or nothing."""
    if args.whole_val is None:
        return []
    lists = lists_folder(args.whole_val, None)
    files = select_files(args.whole_val, lists, "train" if lists else None)
    excluded = {p.name for p in args.exclude_names.rglob("*")} if args.exclude_names else set()
    known = {breed_key(name) for name in class_names}
    files = [f for f in files if f.path.name not in excluded and breed_key(f.breed) in known]
    log.info("whole-photo validation", extra={"photos": len(files), "folder": str(args.whole_val)})
    cache = view_cache(args, net, files, class_names, device, "trunk (whole-photo validation)")
    return [cache]


def train_end_to_end(args, net: TunedNet, files, class_names, device) -> tuple[list, object]:
    run = prepare(args, net, files, class_names, device)
    last_path = Path(f"{args.out}.last.pt")
    if args.resume and last_path.exists():
        run.resume(torch.load(last_path, map_location="cpu", weights_only=True))
        log.info("resumed", extra={"from": str(last_path), "epoch": run.start_epoch})
    train_epochs(args, run)
    val = files[1]
    val_cache = view_cache(args, net, val, class_names, device, "trunk (validation)")
    return run.history, val_cache


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("finetune")
    started = time.perf_counter()
    if args.find_data:
        images = find_data(args.out.parent.parent)
        if images is None:
            return 2
        args.images = images
    try:
        check_writable(args.out.parent)  # before hours of training that could not be saved
        args.arch, built = initial_backbone(args.arch, args.weights, args.seed)
    except (NotWritable, WeightsUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.weights == "random":
        log.warning("RANDOM WEIGHTS: plumbing test only, the result is meaningless")
    backbone = get_backbone(args.arch)
    stages = args.train_stages or backbone.train_stages
    if not 1 <= stages <= len(backbone.stages):
        raise SystemExit(
            f"--train-stages must be between 1 and {len(backbone.stages)} for {args.arch}"
        )
    args.train_stages = stages
    args.cache_dir = args.cache_dir or args.out.parent / "feature-cache"
    torch.manual_seed(args.seed)
    device = choose_device(args.device)
    mode = (
        args.mode if args.mode != "auto" else ("end-to-end" if device.type == "cuda" else "cached")
    )
    fit, val, class_names = select_data(args)
    net = tuned_net(args.arch, built, stages, len(class_names)).to(device)
    log.info(
        "fine-tuning",
        extra={
            "arch": args.arch,
            "mode": mode,
            "device": str(device),
            "stages": stages,
            "train_images": len(fit),
            "val_images": len(val),
            "classes": len(class_names),
        },
    )
    train = train_cached if mode == "cached" else train_end_to_end
    try:
        history, val_cache = train(args, net, (fit, val), class_names, device)
    except NonFiniteLoss as error:
        print(f"error: {error}; nothing was saved", file=sys.stderr)
        return 3
    net.to("cpu")
    whole = whole_validation(args, net, class_names, torch.device("cpu"))
    recipes = choose_recipe(net, val_cache, *whole)
    chosen = {"mix": float(net.mix), "look": "tuned" if float(net.look_tuned) else "imagenet"}
    imagenet = next(r for r in recipes if r["mix"] == 0.0 and r["look"] == "imagenet")
    best = next(r for r in recipes if r["mix"] == chosen["mix"] and r["look"] == chosen["look"])
    run_args = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    metrics = {"validation": {"imagenet": imagenet, "fine_tuned": best}, "mode": mode}
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    fingerprint = save_checkpoint(
        args.out,
        net,
        args.arch,
        class_names=class_names,
        train_stages=stages,
        metrics=metrics,
        history=history,
        recipes=recipes,
        args=run_args,
    )
    summary = {"checkpoint": str(args.out), "fingerprint": fingerprint, **metrics}
    print(json.dumps({**summary, "recipe": chosen, "history": history}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
