"""The encoder's wire contract, shared by the encoder (writer) and its clients (readers).

``POST /encode`` answers::

    {"model": {"arch", "dim", "fingerprint", "weights", "offline_backbone", "has_head"},
     "results": [{"vector": "<base64 float32 little-endian>", "width", "height",
                  "predictions": [{"breed", "breed_id", "probability"}]}   # head only
                 | {"error": {"code", "message"}}],                         # one per image
     "timings": {"decode_ms", "encode_ms"}}

Vectors travel as base64 of little-endian float32 (``?vectors=json`` gives plain lists):
a 2048-d vector is 10.9 KB instead of ~40 KB of JSON floats, and decodes without parsing.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

VECTOR_DTYPE = np.dtype("<f4")


def pack_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vector, dtype=VECTOR_DTYPE).tobytes()).decode()


def unpack_vector(packed: str | list[float]) -> np.ndarray:
    if isinstance(packed, list):
        return np.asarray(packed, dtype=np.float32)
    return np.frombuffer(base64.b64decode(packed), dtype=VECTOR_DTYPE).astype(np.float32)


@dataclass(frozen=True)
class ModelInfo:
    """What produced a vector. ``fingerprint`` is a hash of the weights: equal means comparable."""

    arch: str
    dim: int
    fingerprint: str
    weights: str  # "checkpoint" | "imagenet" | "random"
    offline_backbone: bool = False
    has_head: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        return cls(
            arch=str(data["arch"]),
            dim=int(data["dim"]),
            fingerprint=str(data["fingerprint"]),
            weights=str(data.get("weights", "unknown")),
            offline_backbone=bool(data.get("offline_backbone", False)),
            has_head=bool(data.get("has_head", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def same_model(self, other: ModelInfo) -> bool:
        """Vectors of the two can be compared: same architecture, dimension and weights."""
        return (self.arch, self.dim, self.fingerprint) == (other.arch, other.dim, other.fingerprint)


@dataclass(frozen=True)
class Prediction:
    breed: str
    breed_id: int
    probability: float


@dataclass
class EncodedImage:
    """One image's outcome: a unit vector, or an error for this image alone."""

    vector: np.ndarray | None = None
    width: int = 0
    height: int = 0
    predictions: list[Prediction] = field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.vector is not None

    def to_dict(self, *, vectors_as_json: bool = False) -> dict[str, Any]:
        if self.vector is None:
            return {"error": {"code": self.error_code, "message": self.error_message}}
        out: dict[str, Any] = {
            "vector": self.vector.tolist() if vectors_as_json else pack_vector(self.vector),
            "width": self.width,
            "height": self.height,
        }
        if self.predictions:
            out["predictions"] = [asdict(p) for p in self.predictions]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncodedImage:
        if "error" in data:
            error = data["error"]
            return cls(error_code=error.get("code"), error_message=error.get("message"))
        return cls(
            vector=unpack_vector(data["vector"]),
            width=int(data.get("width", 0)),
            height=int(data.get("height", 0)),
            predictions=[Prediction(**p) for p in data.get("predictions", [])],
        )
