"""Fine-tune the last stages of the backbone and a new breed head on Stanford Dogs.

    python scripts/finetune.py data/stanford-dogs/Images --lists data/stanford-dogs/lists

Starts from ImageNet weights; only the last ``--train-stages`` stages (default 1: ``layer4``
of ResNet-152) and the new 120-way head learn, and BatchNorm layers of frozen stages keep
their ImageNet statistics (they stay in eval mode). Writes one checkpoint the encoder loads
with ``ENCODER_CHECKPOINT`` (the best epoch by validation top-1) and ``<out>.last.pt`` to
resume from with ``--resume``. On a GPU it uses AMP and channels_last.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms
from tqdm import tqdm

from encoder.config import EncoderSettings
from encoder.model import (
    BACKBONES,
    CROP,
    RANDOM_SEED,
    EmbeddingNet,
    WeightsUnavailable,
    build_backbone,
    build_pretrained_backbone,
    choose_device,
    preprocess_transform,
    save_checkpoint,
)
from scripts.training.labelled_images import (
    LabelledImages,
    add_dataset_arguments,
    class_names_for,
    lists_folder,
    select_files,
)
from services.files import NotWritable, check_writable
from services.logs import configure_logging

log = logging.getLogger("finetune")


def initial_backbone(arch: str, weights: str, seed: int) -> tuple[str, nn.Module]:
    """ImageNet weights, or seeded random ones (``random``: reproducible, for tests only).
    ``auto`` resolves as the encoder resolves it; returns the arch actually built."""
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


def trainable_prefixes(arch: str, stages: int) -> list[str]:
    """Module names (in :class:`EmbeddingNet`) that learn: the last ``stages`` and the head."""
    available = BACKBONES[arch].stages
    if not 0 <= stages <= len(available):
        raise SystemExit(f"--train-stages must be between 0 and {len(available)} for {arch}")
    return ["head", *(f"backbone.{name}" for stage in available[:stages] for name in stage)]


def _learns(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def freeze(net: EmbeddingNet, prefixes: list[str]) -> list[nn.Parameter]:
    """Freeze everything outside ``prefixes``; returns the parameters that learn."""
    learning = []
    for name, parameter in net.named_parameters():
        parameter.requires_grad = _learns(name, prefixes)
        if parameter.requires_grad:
            learning.append(parameter)
    return learning


def set_train_mode(net: EmbeddingNet, prefixes: list[str]) -> None:
    """Train mode for the learning stages only: frozen BatchNorm keeps its running statistics."""
    net.train()
    for name, module in net.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not _learns(name, prefixes):
            module.eval()


def warmup_cosine(total_steps: int, warmup_steps: int):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


@dataclass
class EpochResult:
    loss: float
    top1: float
    top5: float = 0.0


def run_epoch(
    net,
    loader,
    device,
    *,
    optimizer=None,
    scheduler=None,
    scaler=None,
    criterion,
    prefixes,
    use_amp,
    max_steps=None,
    desc="",
) -> EpochResult:
    """One pass over ``loader``; trains when an optimizer is given, else evaluates."""
    training = optimizer is not None
    if training:
        set_train_mode(net, prefixes)
    else:
        net.eval()
    total_loss, correct1, correct5, seen = 0.0, 0, 0, 0
    bar = tqdm(loader, desc=desc, unit="batch", leave=False, disable=not sys.stderr.isatty())
    for step, (images, labels) in enumerate(bar):
        if max_steps is not None and step >= max_steps:
            break
        images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        labels = labels.to(device, non_blocking=True)
        with torch.set_grad_enabled(training), torch.autocast(device.type, enabled=use_amp):
            _, logits = net(images)
            loss = criterion(logits.float(), labels)
        if training:
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
        top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices
        correct1 += (top5[:, 0] == labels).sum().item()
        correct5 += (top5 == labels[:, None]).any(dim=1).sum().item()
        total_loss += loss.item() * len(labels)
        seen += len(labels)
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct1 / seen:.3f}")
    if seen == 0:
        raise SystemExit("no batches: the dataset is empty or smaller than one batch")
    return EpochResult(total_loss / seen, correct1 / seen, correct5 / seen)


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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("finetune")
    try:
        check_writable(args.out.parent)  # before hours of training that could not be saved
    except NotWritable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    device = choose_device(args.device)
    use_amp = device.type == "cuda"

    args.lists = lists_folder(args.images, args.lists)
    has_lists = args.lists is not None
    train_files = select_files(
        args.images,
        args.lists,
        "train" if has_lists else None,
        args.limit,
        args.per_breed,
        args.seed,
    )
    val_files = (
        select_files(args.images, args.lists, "test", args.val_limit, None, args.seed)
        if has_lists
        else train_files
    )
    class_names = class_names_for(train_files + val_files)
    try:
        args.arch, backbone = initial_backbone(args.arch, args.weights, args.seed)
    except WeightsUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.weights == "random":
        log.warning("RANDOM WEIGHTS: plumbing test only, the result is meaningless")
    net = EmbeddingNet(backbone, nn.Linear(BACKBONES[args.arch].dim, len(class_names)))
    net.to(device).to(memory_format=torch.channels_last)
    prefixes = trainable_prefixes(args.arch, args.train_stages)
    learning = freeze(net, prefixes)
    head_params = list(net.head.parameters())
    head_ids = {id(p) for p in head_params}
    backbone_params = [p for p in learning if id(p) not in head_ids]
    groups = [
        {"params": head_params, "lr": args.head_lr},
        {"params": backbone_params, "lr": args.lr},
    ]
    if args.optimizer == "adamw":
        optimizer = torch.optim.AdamW(groups, weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.SGD(
            groups, momentum=0.9, weight_decay=args.weight_decay, nesterov=True
        )

    loader_options = {
        "batch_size": args.batch_size,
        "num_workers": args.workers,
        "pin_memory": device.type == "cuda",
        "persistent_workers": args.workers > 0,
    }
    train_loader = DataLoader(
        LabelledImages(train_files, class_names, train_transform(args.arch)),
        shuffle=True,
        drop_last=len(train_files) > args.batch_size,
        **loader_options,
    )
    val_loader = DataLoader(
        LabelledImages(val_files, class_names, preprocess_transform(BACKBONES[args.arch])),
        **loader_options,
    )
    steps_per_epoch = min(len(train_loader), args.max_steps or len(train_loader))
    total_steps = steps_per_epoch * args.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(total_steps, int(args.warmup_epochs * steps_per_epoch))
    )
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    last_path = Path(f"{args.out}.last.pt")
    start_epoch, best_top1, history = 0, -1.0, []
    if args.resume and last_path.exists():
        state = torch.load(last_path, map_location="cpu", weights_only=True)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start_epoch, best_top1, history = state["epoch"], state["best_top1"], state["history"]
        log.info("resumed", extra={"from": str(last_path), "epoch": start_epoch})

    run_args = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    log.info(
        "fine-tuning",
        extra={
            "arch": args.arch,
            "device": str(device),
            "train_images": len(train_files),
            "val_images": len(val_files),
            "classes": len(class_names),
            "learning": prefixes,
            "learning_params": sum(p.numel() for p in learning),
            "all_params": sum(p.numel() for p in net.parameters()),
        },
    )
    epochs = tqdm(
        range(start_epoch, args.epochs),
        desc="epochs",
        unit="epoch",
        initial=start_epoch,
        total=args.epochs,
    )
    for epoch in epochs:
        started = time.perf_counter()
        common = {"criterion": criterion, "prefixes": prefixes, "use_amp": use_amp}
        train = run_epoch(
            net,
            train_loader,
            device,
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=scaler,
            max_steps=args.max_steps,
            desc=f"train {epoch + 1}",
            **common,
        )
        val = run_epoch(
            net, val_loader, device, max_steps=args.max_steps, desc=f"val {epoch + 1}", **common
        )
        record = {
            "epoch": epoch + 1,
            "train_loss": round(train.loss, 4),
            "train_top1": round(train.top1, 4),
            "val_loss": round(val.loss, 4),
            "val_top1": round(val.top1, 4),
            "val_top5": round(val.top5, 4),
            "seconds": round(time.perf_counter() - started, 1),
        }
        history.append(record)
        epochs.set_postfix(val_top1=record["val_top1"], loss=record["train_loss"])
        log.info("epoch done", extra=record)
        if val.top1 > best_top1:
            best_top1 = val.top1
            fingerprint = save_checkpoint(
                args.out,
                net,
                args.arch,
                class_names=class_names,
                metrics=record,
                history=history,
                args=run_args,
            )
            log.info(
                "best checkpoint saved", extra={"path": str(args.out), "fingerprint": fingerprint}
            )
        torch.save(
            {
                "model": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "epoch": epoch + 1,
                "best_top1": best_top1,
                "history": history,
            },
            last_path,
        )
    summary = {
        "checkpoint": str(args.out),
        "best_val_top1": round(best_top1, 4),
        "history": history,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
