"""The encoder's settings: the only place it reads the environment (prefix ``ENCODER_``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.imaging import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS


class EncoderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENCODER_", extra="ignore")

    arch: str = "resnet152"  # resnet152 | efficientnet_lite0 | auto (ResNet, else offline)
    weights: str = "auto"  # auto | imagenet | random (plumbing tests only)
    checkpoint: str = (
        ""  # a fine-tuned checkpoint from scripts/training/finetune.py wins over `weights`
    )
    device: str = "auto"  # auto | cpu | cuda | cuda:1
    backend: str = "auto"  # auto (ONNX Runtime on CPU, torch on CUDA) | torch | onnx
    onnx_cache_dir: str = ""  # exported models, by fingerprint; "" = $TORCH_HOME/onnx
    threads: int = 0  # torch intra-op threads on CPU; 0 = one per core
    max_batch: int = 32
    max_wait_ms: float = 5.0  # longest a batch waits for images still being decoded
    decode: str = "auto"  # auto (= tensor) | tensor (torchvision, nvJPEG on CUDA) | pillow
    decode_threads: int = 0  # images of one request decoded in parallel; 0 = one per core
    queue_size: int = 512
    max_images_per_request: int = 64
    max_image_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    top_k_predictions: int = 5
    log_level: str = "INFO"
