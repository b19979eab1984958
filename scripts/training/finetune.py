"""Fine-tune the last stages of the backbone and a new breed head on Stanford Dogs.

    python -m scripts.training.finetune [IMAGES] [--arch auto] [--epochs 10] [--resume]

The same recipe for ResNet-152 and the offline backbone (``--arch``, default ``ENCODER_ARCH``):
it starts from ImageNet weights, and only the last ``--train-stages`` stages (default 1:
``layer4`` of ResNet-152) and the new 120-way head learn (see :mod:`scripts.training.trainer`).
Writes the checkpoint the encoder loads with ``ENCODER_CHECKPOINT`` (the best epoch by
validation top-1) and ``<out>.last.pt``, to resume from with ``--resume``. A progress bar
shows images/s and the loss within each epoch; a non-finite loss stops the run with a clear
message, and no diverged model is ever saved. On a GPU it uses AMP and channels_last.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms
from tqdm import tqdm

from encoder.checkpoint import WeightsUnavailable, save_checkpoint
from encoder.config import EncoderSettings
from encoder.model import (
    BACKBONES,
    CROP,
    RANDOM_SEED,
    Built,
    EmbeddingNet,
    build_backbone,
    build_pretrained_backbone,
    choose_device,
    preprocess_transform,
)
from scripts.training.labelled_images import (
    LabelledImages,
    add_dataset_arguments,
    class_names_for,
    lists_folder,
    select_files,
)
from scripts.training.trainer import (
    NonFiniteLoss,
    Step,
    all_finite,
    freeze,
    run_epoch,
    trainable_prefixes,
    warmup_cosine,
)
from services.dataset import ImageFile
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


def train_transform(arch: str) -> transforms.Compose:
    backbone = BACKBONES[arch]
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(CROP, scale=(0.35, 1.0)),
            transforms.RandomHorizontalFlip(),
            transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
            transforms.ToTensor(),
            transforms.Normalize(backbone.mean, backbone.std),
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    encoder = EncoderSettings()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Defaults come from SEARCH_API_DATASET_ROOT, ENCODER_ARCH and ENCODER_WEIGHTS.",
    )
    add_dataset_arguments(parser)
    parser.add_argument(
        "--arch",
        choices=["auto", *sorted(BACKBONES)],
        default=encoder.arch,
        help="backbone (default ENCODER_ARCH: %(default)s); auto = ResNet-152, else offline",
    )
    parser.add_argument(
        "--weights",
        choices=["imagenet", "random"],
        default="random" if encoder.weights == "random" else "imagenet",
        help="start from ImageNet (default); random is for plumbing tests only",
    )
    parser.add_argument("--train-stages", type=int, default=1, help="last stages that learn")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    parser.add_argument("--lr", type=float, default=3e-4, help="backbone stages' learning rate")
    parser.add_argument("--head-lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--warmup-epochs", type=float, default=1.0)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=4, help="DataLoader worker processes")
    parser.add_argument("--limit", type=int, help="train on a seeded sample of N images")
    parser.add_argument("--per-breed", type=int, help="at most N training images per breed")
    parser.add_argument("--val-limit", type=int, help="validate on a sample of N test images")
    parser.add_argument("--max-steps", type=int, help="stop each epoch after N steps (smoke)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("checkpoints/finetuned.pt"))
    parser.add_argument("--resume", action="store_true", help="continue from <out>.last.pt")
    parser.add_argument("--seed", type=int, default=RANDOM_SEED)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def select_data(args: argparse.Namespace) -> tuple[list[ImageFile], list[ImageFile], list[str]]:
    """Training and validation files (the official split when there are lists) and classes."""
    args.lists = lists_folder(args.images, args.lists)
    split = args.lists is not None
    train = select_files(
        args.images, args.lists, "train" if split else None, args.limit, args.per_breed, args.seed
    )
    val = (
        select_files(args.images, args.lists, "test", args.val_limit, None, args.seed)
        if split
        else train
    )
    return train, val, class_names_for(train + val)


def make_optimizer(args, net: EmbeddingNet, learning: list) -> torch.optim.Optimizer:
    """The head learns at ``--head-lr``, the unfrozen stages at ``--lr``."""
    head_ids = {id(p) for p in net.head.parameters()}
    groups = [
        {"params": list(net.head.parameters()), "lr": args.head_lr},
        {"params": [p for p in learning if id(p) not in head_ids], "lr": args.lr},
    ]
    if args.optimizer == "adamw":
        return torch.optim.AdamW(groups, weight_decay=args.weight_decay)
    return torch.optim.SGD(groups, momentum=0.9, weight_decay=args.weight_decay, nesterov=True)


@dataclass
class Run:
    """Everything one fine-tuning run holds between epochs (and saves to resume)."""

    net: EmbeddingNet
    train: Step
    validate: Step
    train_loader: DataLoader
    val_loader: DataLoader
    class_names: list[str]
    best_top1: float = -1.0
    start_epoch: int = 0
    history: list[dict] = field(default_factory=list)

    def state(self) -> dict:
        return {
            "model": self.net.state_dict(),
            "optimizer": self.train.optimizer.state_dict(),
            "scheduler": self.train.scheduler.state_dict(),
            "scaler": self.train.scaler.state_dict(),
            "epoch": len(self.history),
            "best_top1": self.best_top1,
            "history": self.history,
        }

    def resume(self, state: dict) -> None:
        self.net.load_state_dict(state["model"])
        self.train.optimizer.load_state_dict(state["optimizer"])
        self.train.scheduler.load_state_dict(state["scheduler"])
        self.train.scaler.load_state_dict(state["scaler"])
        self.start_epoch, self.best_top1 = state["epoch"], state["best_top1"]
        self.history = state["history"]


def prepare(args, net: EmbeddingNet, files, class_names, device: torch.device) -> Run:
    prefixes = trainable_prefixes(args.arch, args.train_stages)
    optimizer = make_optimizer(args, net, freeze(net, prefixes))
    options = {
        "batch_size": args.batch_size,
        "num_workers": args.workers,
        "pin_memory": device.type == "cuda",
        "persistent_workers": args.workers > 0,
    }
    train_files, val_files = files
    train_loader = DataLoader(
        LabelledImages(train_files, class_names, train_transform(args.arch)),
        shuffle=True,
        drop_last=len(train_files) > args.batch_size,
        **options,
    )
    val_transform = preprocess_transform(BACKBONES[args.arch])
    val_loader = DataLoader(LabelledImages(val_files, class_names, val_transform), **options)
    steps = min(len(train_loader), args.max_steps or len(train_loader))
    schedule = warmup_cosine(steps * args.epochs, int(args.warmup_epochs * steps))
    common = {
        "device": device,
        "criterion": nn.CrossEntropyLoss(label_smoothing=args.label_smoothing),
        "prefixes": prefixes,
        "use_amp": device.type == "cuda",
        "max_steps": args.max_steps,
        "progress": not args.no_progress,
    }
    train = Step(
        **common,
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, schedule),
        scaler=torch.amp.GradScaler(device.type, enabled=device.type == "cuda"),
    )
    return Run(net, train, Step(**common), train_loader, val_loader, class_names)


def train_epochs(args, run: Run, run_args: dict) -> None:
    """Train and validate each epoch; keep the best checkpoint and the state to resume."""
    last_path = Path(f"{args.out}.last.pt")
    epochs = range(run.start_epoch, args.epochs)
    bar = tqdm(epochs, desc="epochs", unit="epoch", initial=run.start_epoch, total=args.epochs)
    for epoch in bar:
        started = time.perf_counter()
        train = run_epoch(run.net, run.train_loader, run.train, f"train {epoch + 1}")
        val = run_epoch(run.net, run.val_loader, run.validate, f"val {epoch + 1}")
        record = {
            "epoch": epoch + 1,
            "train_loss": round(train.loss, 4),
            "train_top1": round(train.top1, 4),
            "train_images_per_s": train.images_per_s,
            "val_loss": round(val.loss, 4),
            "val_top1": round(val.top1, 4),
            "val_top5": round(val.top5, 4),
            "seconds": round(time.perf_counter() - started, 1),
        }
        if not all_finite(run.net):  # a finite loss can still hide a diverged weight
            raise NonFiniteLoss(f"weights are not finite after epoch {epoch + 1}; not saved")
        run.history.append(record)
        bar.set_postfix(val_top1=record["val_top1"], loss=record["train_loss"])
        log.info("epoch done", extra=record)
        if val.top1 > run.best_top1:
            run.best_top1 = val.top1
            extra = {"class_names": run.class_names, "metrics": record, "history": run.history}
            fingerprint = save_checkpoint(args.out, run.net, args.arch, **extra, args=run_args)
            log.info("best checkpoint saved", extra={"path": str(args.out), "fp": fingerprint})
        torch.save(run.state(), last_path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("finetune")
    try:
        check_writable(args.out.parent)  # before hours of training that could not be saved
        args.arch, (backbone, classifier) = initial_backbone(args.arch, args.weights, args.seed)
    except (NotWritable, WeightsUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.weights == "random":
        log.warning("RANDOM WEIGHTS: plumbing test only, the result is meaningless")
    torch.manual_seed(args.seed)
    device = choose_device(args.device)
    train_files, val_files, class_names = select_data(args)
    head = nn.Linear(BACKBONES[args.arch].dim, len(class_names))
    net = EmbeddingNet(backbone, classifier, head)  # the ImageNet classifier stays frozen
    net.to(device).to(memory_format=torch.channels_last)
    run = prepare(args, net, (train_files, val_files), class_names, device)
    last_path = Path(f"{args.out}.last.pt")
    if args.resume and last_path.exists():
        run.resume(torch.load(last_path, map_location="cpu", weights_only=True))
        log.info("resumed", extra={"from": str(last_path), "epoch": run.start_epoch})
    log.info(
        "fine-tuning",
        extra={
            "arch": args.arch,
            "device": str(device),
            "train_images": len(train_files),
            "val_images": len(val_files),
            "classes": len(class_names),
            "learning": run.train.prefixes,
        },
    )
    run_args = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    try:
        train_epochs(args, run, run_args)
    except NonFiniteLoss as error:
        kept = f"; the best checkpoint so far ({args.out}) is kept" if run.history else ""
        print(f"error: {error}{kept}", file=sys.stderr)
        return 3
    summary = {"checkpoint": str(args.out), "best_val_top1": round(run.best_top1, 4)}
    print(json.dumps({**summary, "history": run.history}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
