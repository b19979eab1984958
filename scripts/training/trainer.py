"""The training loop of fine-tuning: which stages learn, the schedule, and one epoch.

Only the last stages of the backbone and the head learn; BatchNorm layers of frozen stages keep
their ImageNet statistics (they stay in eval mode). A loss that is not finite stops training
at once with :class:`NonFiniteLoss`: a model that has diverged must never be saved.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from encoder.model import EmbeddingNet


class NonFiniteLoss(RuntimeError):
    """Training diverged (NaN or infinite loss); the message says where and what to try."""


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


def all_finite(net: nn.Module) -> bool:
    return all(torch.isfinite(tensor).all() for tensor in net.state_dict().values())


@dataclass
class EpochResult:
    loss: float
    top1: float
    top5: float = 0.0
    images_per_s: float = 0.0


@dataclass
class Step:
    """What one pass needs besides the model and the data; no optimizer means evaluate."""

    device: torch.device
    criterion: nn.Module
    prefixes: list[str]
    use_amp: bool
    optimizer: torch.optim.Optimizer | None = None
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    scaler: torch.amp.GradScaler | None = None
    max_steps: int | None = None
    progress: bool = True


def run_epoch(net: EmbeddingNet, loader, step: Step, desc: str) -> EpochResult:
    """One pass over ``loader`` with a progress bar in images (img/s, loss, accuracy)."""
    training = step.optimizer is not None
    if training:
        set_train_mode(net, step.prefixes)
    else:
        net.eval()
    total_loss, correct1, correct5, seen = 0.0, 0, 0, 0
    total = len(loader.dataset)
    if step.max_steps is not None:
        total = min(total, step.max_steps * (loader.batch_size or 1))
    bar = tqdm(total=total, desc=desc, unit="img", leave=False, disable=not step.progress)
    started = time.perf_counter()
    for index, (images, labels) in enumerate(loader):
        if step.max_steps is not None and index >= step.max_steps:
            break
        images = images.to(step.device, non_blocking=True)
        images = images.contiguous(memory_format=torch.channels_last)
        labels = labels.to(step.device, non_blocking=True)
        with (
            torch.set_grad_enabled(training),
            torch.autocast(step.device.type, enabled=step.use_amp),
        ):
            _, _, logits = net(images)
            loss = step.criterion(logits.float(), labels)
        if not torch.isfinite(loss):
            bar.close()
            raise NonFiniteLoss(
                f"the loss became {loss.item()} at {desc}, batch {index + 1}: training "
                "diverged, and nothing from this point is saved. Lower --lr and --head-lr, "
                "start from --weights imagenet, or check the images of that batch."
            )
        if training:
            _learn(loss, step)
        top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices
        correct1 += (top5[:, 0] == labels).sum().item()
        correct5 += (top5 == labels[:, None]).any(dim=1).sum().item()
        total_loss += loss.item() * len(labels)
        seen += len(labels)
        bar.update(len(labels))
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct1 / seen:.3f}")
    bar.close()
    if seen == 0:
        raise SystemExit("no batches: the dataset is empty or smaller than one batch")
    rate = seen / max(time.perf_counter() - started, 1e-9)
    return EpochResult(total_loss / seen, correct1 / seen, correct5 / seen, round(rate, 1))


def _learn(loss: torch.Tensor, step: Step) -> None:
    assert step.optimizer is not None and step.scaler is not None
    step.optimizer.zero_grad(set_to_none=True)
    step.scaler.scale(loss).backward()
    step.scaler.step(step.optimizer)
    step.scaler.update()
    if step.scheduler is not None:
        step.scheduler.step()
