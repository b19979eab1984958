"""The one-file checkpoint of a fine-tuned model, and the fingerprint that names a model.

Equal fingerprints mean comparable vectors: the hash covers the architecture, every weight, and
the vector recipe with the model's dog-score calibration (:func:`encoder.understanding.recipe`),
so a new recipe forces a re-index. A checkpoint also keeps the model's whole
:class:`~services.encoder_wire.Calibration` (one written before it carried one gets its
backbone's).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from encoder.understanding import recipe
from services.encoder_wire import DEFAULT_CALIBRATION, Calibration

# 3: two tails (the ImageNet one kept as it was, a fine-tuned copy), ``train_stages`` recorded
CHECKPOINT_FORMAT = "dogsearch-checkpoint/3"


class WeightsUnavailable(RuntimeError):
    """Weights cannot be loaded; the message says what to download or set, and where."""


def fingerprint_state_dict(
    arch: str,
    state_dict: dict[str, torch.Tensor],
    calibration: Calibration = DEFAULT_CALIBRATION,
) -> str:
    """A short hash of the architecture, the recipe and every tensor."""
    digest = hashlib.sha256(f"{arch}|{recipe(calibration)}".encode())
    for name, tensor in state_dict.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def save_checkpoint(
    path: str | os.PathLike,
    net: nn.Module,
    arch: str,
    calibration: Calibration | None = None,
    **extra: Any,
) -> str:
    """Write the checkpoint atomically; returns its fingerprint. ``calibration``: the
    backbone's unless given; ``extra``: class_names, train_stages, ..."""
    from encoder.backbones import CROP, RESIZE, get_backbone

    backbone = get_backbone(arch)
    calibration = calibration or backbone.calibration
    state_dict = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    fingerprint = fingerprint_state_dict(arch, state_dict, calibration)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "arch": arch,
        "state_dict": state_dict,
        "preprocessing": {
            "resize": RESIZE,
            "crop": CROP,
            "mean": backbone.mean,
            "std": backbone.std,
        },
        "recipe": recipe(calibration),
        "calibration": calibration.to_dict(),
        "fingerprint": fingerprint,
        **extra,
    }
    tmp = Path(f"{path}.tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # a crash never leaves half a checkpoint
    return fingerprint


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise WeightsUnavailable(f"ENCODER_CHECKPOINT {path} does not exist")
    payload = torch.load(path, map_location="cpu", weights_only=True)  # no pickled code
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else "not a checkpoint"
        raise WeightsUnavailable(
            f"{path} is {found}, not a {CHECKPOINT_FORMAT} checkpoint: fine-tune again with "
            "python -m scripts.training.finetune"
        )
    return payload
