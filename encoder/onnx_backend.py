"""ONNX Runtime for the CPU path: the same network and weights, exported once and cached.

It is faster than torch on CPU with the same vectors (README, Benchmarks, has the numbers and
the command); on a GPU torch with AMP stays, so ``ENCODER_BACKEND=auto`` means ONNX Runtime on
CPU only.
The export is keyed by the model fingerprint, so a new checkpoint gets a new file and the
fingerprint stored with every vector still names exactly one model.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from encoder.model import CROP, Embed, Encoder
from encoder.understanding import Understood, understand

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx")


class BackendUnavailable(RuntimeError):
    """ONNX Runtime was asked for explicitly and cannot run here."""


def default_cache_dir() -> Path:
    """Next to torch's own downloads (``$TORCH_HOME``), a volume in compose."""
    return Path(torch.hub.get_dir()).parent / "onnx"


def wants_onnx(requested: str, device: torch.device) -> bool:
    """``auto``: ONNX Runtime on CPU, torch on CUDA. ``onnx`` on a GPU is a configuration error."""
    if requested not in BACKENDS:
        raise ValueError(f"ENCODER_BACKEND must be one of {', '.join(BACKENDS)}, not {requested!r}")
    if requested == "onnx" and device.type != "cpu":
        raise BackendUnavailable(
            f"ENCODER_BACKEND=onnx runs on CPU only; the encoder is on {device}. "
            "Use ENCODER_BACKEND=auto or torch on a GPU."
        )
    return requested == "onnx" or (requested == "auto" and device.type == "cpu")


class OnnxEmbedder:
    """``embed`` with the contract of ``Encoder.embed``, run by an ONNX Runtime session."""

    def __init__(self, encoder: Encoder, cache_dir: Path, threads: int = 0):
        import onnxruntime  # lazy: a GPU image may leave it out

        self.path = export_onnx(encoder, cache_dir)
        self.calibration = encoder.calibration
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(
            str(self.path), options, providers=["CPUExecutionProvider"]
        )
        self.version = onnxruntime.__version__

    def embed(self, batch: torch.Tensor) -> Understood:
        images = batch.detach().to("cpu", torch.float32).contiguous().numpy()
        names = [output.name for output in self.session.get_outputs()]
        outputs = self.session.run(None, {"images": images})
        found = {name: torch.from_numpy(value) for name, value in zip(names, outputs, strict=True)}
        return understand(
            found["features"],
            found.get("imagenet_logits"),
            found.get("head_logits"),
            self.calibration,
        )


class _Present(nn.Module):
    """The network's outputs that exist (a graph has no None): features, then the ImageNet
    logits if the backbone has that classifier, then the head's logits if fine-tuned."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(output for output in self.net(images) if output is not None)


def export_onnx(encoder: Encoder, cache_dir: Path) -> Path:
    """The cached export for this fingerprint; written atomically, so workers may race."""
    head = "-head" if encoder.net.head is not None else ""
    path = cache_dir / f"{encoder.info.arch}-{encoder.info.fingerprint}{head}.onnx"
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    has_imagenet = getattr(encoder.net, "imagenet_head", None) is not None
    imagenet = ["imagenet_logits"] if has_imagenet else []
    outputs = ["features", *imagenet, *(["head_logits"] if head else [])]
    net = _Present(encoder.net).eval()
    handle, temporary = tempfile.mkstemp(dir=cache_dir, suffix=".onnx.part")
    os.close(handle)
    try:
        with warnings.catch_warnings():
            # torch 2.9+ prefers the torch.export-based exporter, which needs onnxscript; the
            # TorchScript one exports these plain CNNs exactly and says it is deprecated.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                net,
                (torch.zeros(1, 3, CROP, CROP),),
                temporary,
                input_names=["images"],
                output_names=outputs,
                dynamic_axes={name: {0: "batch"} for name in ["images", *outputs]},
                dynamo=False,
            )
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    log.info(
        "exported the model to ONNX",
        extra={"path": str(path), "seconds": round(time.perf_counter() - started, 2)},
    )
    return path


def choose_embed(
    encoder: Encoder, requested: str, cache_dir: Path, threads: int
) -> tuple[Embed, str]:
    """The embed function to run and the backend's name. ``auto`` falls back to torch, loudly."""
    if not wants_onnx(requested, encoder.device):
        return encoder.embed, "torch"
    try:
        embedder = OnnxEmbedder(encoder, cache_dir, threads)
    except Exception as error:  # any failure of an optional speed-up
        if requested == "onnx":
            raise BackendUnavailable(f"ENCODER_BACKEND=onnx cannot start: {error}") from error
        log.warning(
            "ONNX Runtime unavailable, running torch on CPU (slower)",
            extra={"reason": f"{type(error).__name__}: {error}"},
        )
        return encoder.embed, "torch"
    return embedder.embed, f"onnxruntime {embedder.version}"
