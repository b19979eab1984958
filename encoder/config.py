"""The encoder's settings: the only place it reads the environment (prefix ``ENCODER_``).

Values that have a fixed set of choices are checked when the settings are built, so a bad one
stops the start with the variable's name and the choices (:func:`load_settings`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.imaging import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from services.settings import (
    EncoderClientSettings,
    EncoderServerSettings,
    S,
    from_environment,
)

DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


class EncoderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENCODER_", extra="ignore")

    arch: str = "resnet152"  # a backbone of encoder/backbones, or auto (ResNet, else offline)
    weights: Literal["auto", "imagenet", "random"] = "auto"  # random: plumbing tests only
    checkpoint: str = (
        ""  # a fine-tuned checkpoint from scripts/training/finetune.py wins over `weights`
    )
    device: str = "auto"  # auto | cpu | cuda | cuda:1
    backend: Literal["auto", "torch", "onnx"] = "auto"  # auto: ONNX Runtime on CPU, torch on CUDA
    onnx_cache_dir: str = ""  # exported models, by fingerprint; "" = $TORCH_HOME/onnx
    threads: int = 0  # torch intra-op threads on CPU; 0 = one per core
    max_batch: int = 32
    max_wait_ms: float = 5.0  # longest a batch waits for images still being decoded
    decode: Literal["auto", "tensor", "pillow"] = "auto"  # auto = tensor (nvJPEG on CUDA)
    decode_threads: int = 0  # images of one request decoded in parallel; 0 = one per core
    queue_size: int = 512
    max_images_per_request: int = 64
    max_image_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    top_k_predictions: int = 5
    # Where the dogs are in each photo: cam (the classifier's own maps, offline) | detector
    # (torchvision's COCO detector, weights downloaded once) | off (no "dogs" in answers).
    localise: Literal["cam", "detector", "off"] = "cam"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("arch")
    @classmethod
    def _a_backbone(cls, arch: str) -> str:
        from encoder.backbones import names  # torch: only where the settings are checked

        if arch != "auto" and arch not in names():
            raise ValueError(f"must be auto or one of {', '.join(names())}")
        return arch

    @field_validator("device")
    @classmethod
    def _a_device(cls, device: str) -> str:
        if not DEVICE.fullmatch(device):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return device

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, level: object) -> object:
        return level.upper() if isinstance(level, str) else level


ENCODER_CLASSES = (EncoderSettings, EncoderServerSettings, EncoderClientSettings)


def load_settings(cls: type[S]) -> S:
    """``cls`` from the environment; raises ``SettingsError`` naming a bad or unknown
    ``ENCODER_*`` variable (the encoder owns that prefix; clients' variables are known too)."""
    return from_environment(cls, owned=("ENCODER_",), classes=ENCODER_CLASSES)
