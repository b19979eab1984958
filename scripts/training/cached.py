"""Fine-tuning on cached trunk outputs, early stopping, and the recipe chosen on validation.

Each epoch shows every training photo once, in one of its cached views drawn at random, to the
fine-tuned tail and head (cross-entropy with label smoothing, optionally plus a metric-learning
loss on the tail's pooled embedding from ``pytorch-metric-learning``). BatchNorm statistics stay
as ImageNet left them (a gentle fine-tune; small batches of cached views would only add noise).
After each epoch the validation photos (the evaluation view) are scored; the best epoch's
weights are kept, and training stops after ``patience`` epochs without improvement.

Then the recipe: how much of the ImageNet breed belief joins the fine-tuned head's (``mix``) and
which tail gives the look part of the vector, chosen by retrieval on the validation photos
(each one a query against all the others: mAP@10, then P@1).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from encoder.tuned import TunedNet
from encoder.understanding import understand
from scripts.training.feature_cache import FeatureCache
from scripts.training.trainer import NonFiniteLoss, all_finite

log = logging.getLogger(__name__)
MIXES = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass
class CachedOptions:
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-4
    head_lr: float = 1e-4
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    metric_loss: str = "none"  # "none" | "multisimilarity"
    metric_weight: float = 0.5
    patience: int = 2
    seed: int = 0
    progress: bool = True


def _metric_loss(name: str) -> nn.Module | None:
    if name == "none":
        return None
    from pytorch_metric_learning import losses, miners  # only when asked for

    loss, miner = losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner()
    return _Mined(loss, miner)


class _Mined(nn.Module):
    def __init__(self, loss: nn.Module, miner: nn.Module):
        super().__init__()
        self.loss, self.miner = loss, miner

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.loss(embeddings, labels, self.miner(embeddings, labels))


@torch.no_grad()
def outputs_on(net: TunedNet, cache: FeatureCache, batch: int = 256) -> tuple[torch.Tensor, ...]:
    """The network's three outputs for view 0 of every cached photo."""
    net.eval()
    parts = [
        net.from_trunk(cache.features[i : i + batch, 0].float())
        for i in range(0, len(cache.labels), batch)
    ]
    return tuple(torch.cat(column) for column in zip(*parts, strict=True))


def head_top1(net: TunedNet, cache: FeatureCache) -> float:
    with torch.no_grad():
        mix = net.mix.clone()
        net.mix.fill_(1.0)
        _, _, logits = outputs_on(net, cache)
        net.mix.copy_(mix)
    return (logits.argmax(1) == cache.labels).float().mean().item()


def train_on_cache(
    net: TunedNet, fit: FeatureCache, val: FeatureCache, options: CachedOptions
) -> list[dict]:
    """Train ``net``'s tuned tail and head; leaves the best epoch's weights in ``net``."""
    for parameter in net.parameters():
        parameter.requires_grad = False
    learning = [p for m in net.learning_modules() for p in m.parameters()]
    for parameter in learning:
        parameter.requires_grad = True
    optimizer = torch.optim.AdamW(
        [
            {"params": list(net.tuned_tail.parameters()), "lr": options.lr},
            {"params": list(net.head.parameters()), "lr": options.head_lr},
        ],
        weight_decay=options.weight_decay,
    )
    steps_per_epoch = math.ceil(len(fit.labels) / options.batch_size)
    total = steps_per_epoch * options.epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(1.0, step / total)))
    )
    steps = (optimizer, schedule)
    generator = torch.Generator().manual_seed(options.seed)
    best = {"top1": head_top1(net, val), "state": copy.deepcopy(net.state_dict()), "epoch": 0}
    history = [{"epoch": 0, "val_top1": round(best["top1"], 4)}]
    log.info("before fine-tuning", extra=history[0])
    for epoch in range(1, options.epochs + 1):
        started = time.perf_counter()
        seen, total_loss, correct = _epoch(net, fit, options, steps, epoch, generator)
        if not all_finite(net):
            raise NonFiniteLoss(f"weights are not finite after epoch {epoch}; not saved")
        top1 = head_top1(net, val)
        record = {
            "epoch": epoch,
            "train_loss": round(total_loss / seen, 4),
            "train_top1": round(correct / seen, 4),
            "val_top1": round(top1, 4),
            "images_per_s": round(seen / (time.perf_counter() - started), 1),
        }
        history.append(record)
        log.info("epoch done", extra=record)
        if top1 > best["top1"]:
            best = {"top1": top1, "state": copy.deepcopy(net.state_dict()), "epoch": epoch}
        elif epoch - best["epoch"] >= options.patience:
            log.info("early stop", extra={"best_epoch": best["epoch"]})
            break
    net.load_state_dict(best["state"])
    return history


@torch.enable_grad()  # whatever the caller's grad mode
def _epoch(net, fit: FeatureCache, options: CachedOptions, steps, epoch: int, generator):
    """One pass: every photo once, in a random one of its cached views. Returns
    ``(seen, summed loss, correct)``."""
    optimizer, schedule = steps
    criterion = nn.CrossEntropyLoss(label_smoothing=options.label_smoothing)
    metric = _metric_loss(options.metric_loss)
    seen, total_loss, correct = 0, 0.0, 0
    order = torch.randperm(len(fit.labels), generator=generator)
    chosen_views = torch.randint(fit.features.shape[1], (len(fit.labels),), generator=generator)
    net.eval()  # BatchNorm keeps ImageNet's statistics; gradients still flow
    bar = tqdm(
        total=len(order),
        desc=f"epoch {epoch}",
        unit="img",
        leave=False,
        disable=not options.progress,
    )
    for start in range(0, len(order), options.batch_size):
        index = order[start : start + options.batch_size]
        x = fit.features[index, chosen_views[index]].float()
        labels = fit.labels[index]
        embedding = net.tuned_tail(x)
        logits = net.head(embedding)
        loss = criterion(logits, labels)
        if metric is not None:
            loss = loss + options.metric_weight * metric(
                nn.functional.normalize(embedding, dim=1), labels
            )
        if not torch.isfinite(loss):
            bar.close()
            raise NonFiniteLoss(
                f"the loss became {loss.item()} in epoch {epoch}: training diverged and "
                "nothing from this point is saved; lower --lr"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        seen += len(index)
        total_loss += loss.item() * len(index)
        correct += (logits.argmax(1) == labels).sum().item()
        bar.update(len(index))
        bar.set_postfix(loss=f"{total_loss / seen:.3f}")
    bar.close()
    return seen, total_loss, correct


def retrieval(vectors: torch.Tensor, labels: torch.Tensor, k: int = 10) -> dict[str, float]:
    """Leave-one-out P@1 and mAP@10 of every photo against all the others."""
    k = max(1, min(k, len(labels) - 1))
    similarity = vectors @ vectors.T
    similarity.fill_diagonal_(-2.0)
    top = similarity.topk(k, dim=1).indices
    hits = (labels[top] == labels[:, None]).float()
    precision_at = hits.cumsum(1) / torch.arange(1, k + 1)
    relevant = (labels[None, :] == labels[:, None]).sum(1).clamp(max=k + 1) - 1
    ap = (precision_at * hits).sum(1) / relevant.clamp(min=1)
    return {"p_at_1": hits[:, 0].mean().item(), "map_at_10": ap.mean().item()}


@torch.no_grad()
def choose_recipe(net: TunedNet, *sets: FeatureCache) -> list[dict]:
    """Try each ``mix`` and look; set the best (by mAP@10, then P@1, averaged over the
    validation ``sets``) on ``net``; one row per candidate, with each set's numbers."""
    tables = [_recipe_table(net, cache) for cache in sets]
    table = []
    for rows in zip(*tables, strict=True):
        row = {"mix": rows[0]["mix"], "look": rows[0]["look"]}
        for key in ("p_at_1", "map_at_10", "breed_top1"):
            row[key] = round(sum(r[key] for r in rows) / len(rows), 4)
        if len(rows) > 1:
            row["sets"] = [{k: r[k] for k in ("p_at_1", "map_at_10", "breed_top1")} for r in rows]
        table.append(row)
    best = max(table, key=lambda row: (row["map_at_10"], row["p_at_1"]))
    net.mix.fill_(best["mix"])
    net.look_tuned.fill_(1.0 if best["look"] == "tuned" else 0.0)
    log.info("recipe chosen on validation", extra={k: v for k, v in best.items() if k != "sets"})
    return table


@torch.no_grad()
def _recipe_table(net: TunedNet, val: FeatureCache) -> list[dict]:
    """Every candidate on one validation set. The tails run once: each candidate only
    recombines their outputs, as :meth:`TunedNet.from_trunk` does."""
    net.mix.fill_(0.0)
    net.look_tuned.fill_(0.0)
    imagenet_features, imagenet_logits, imagenet_breeds = outputs_on(net, val)
    net.mix.fill_(1.0)
    net.look_tuned.fill_(1.0)
    tuned_features, _, tuned_breeds = outputs_on(net, val)
    table = []
    for look_tuned in (0.0, 1.0):
        features = tuned_features if look_tuned else imagenet_features
        for mix in MIXES:
            logits = mix * tuned_breeds + (1 - mix) * imagenet_breeds
            understood = understand(features, imagenet_logits, logits)
            row = {"mix": mix, "look": "tuned" if look_tuned else "imagenet"}
            row.update(retrieval(understood.vectors, val.labels))
            top1 = understood.breed_probabilities.argmax(1) == val.labels
            row["breed_top1"] = top1.float().mean().item()
            table.append({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
    return table
