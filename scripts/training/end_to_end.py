"""End-to-end fine-tuning: every step runs the whole network on freshly augmented photos.

For a GPU (AMP, channels_last), where the trunk costs little; on CPUs the cached path
(:mod:`scripts.training.cached`) trains the same layers from stored trunk outputs. The trunk
stays frozen either way; the fine-tuned tail and the breed head learn, and frozen BatchNorm
layers keep their ImageNet statistics.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms
from tqdm import tqdm

from encoder.backbones import CROP, get_backbone
from encoder.tuned import TunedNet
from scripts.training.labelled_images import LabelledImages
from scripts.training.trainer import (
    NonFiniteLoss,
    Step,
    all_finite,
    freeze,
    run_epoch,
    warmup_cosine,
)

log = logging.getLogger("finetune")


def train_transform(arch: str) -> transforms.Compose:
    backbone = get_backbone(arch)
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(CROP, scale=(0.35, 1.0)),
            transforms.RandomHorizontalFlip(),
            transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
            transforms.ToTensor(),
            transforms.Normalize(backbone.mean, backbone.std),
        ]
    )


def make_optimizer(args, net: TunedNet, learning: list) -> torch.optim.Optimizer:
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

    net: TunedNet
    train: Step
    validate: Step
    train_loader: DataLoader
    val_loader: DataLoader
    class_names: list[str]
    best_top1: float = -1.0
    best_state: dict | None = None
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
            "best_model": self.best_state,
            "history": self.history,
        }

    def resume(self, state: dict) -> None:
        self.net.load_state_dict(state["model"])
        self.train.optimizer.load_state_dict(state["optimizer"])
        self.train.scheduler.load_state_dict(state["scheduler"])
        self.train.scaler.load_state_dict(state["scaler"])
        self.start_epoch, self.best_top1 = state["epoch"], state["best_top1"]
        self.best_state = state.get("best_model")
        self.history = state["history"]


def prepare(args, net: TunedNet, files, class_names, device: torch.device) -> Run:
    prefixes = ["head", "tuned_tail"]
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
    val_transform = get_backbone(args.arch).transform()
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


def train_epochs(args, run: Run) -> None:
    """Train and validate each epoch; keep the best epoch's weights (in ``run.best_state``)
    and, after every epoch, the state to resume from."""
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
            "images_per_s": train.images_per_s,
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
            run.best_state = {k: v.detach().clone() for k, v in run.net.state_dict().items()}
        torch.save(run.state(), last_path)
    if run.best_state is not None:
        run.net.load_state_dict(run.best_state)
