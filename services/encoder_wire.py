"""The encoder's wire contract, shared by the encoder (writer) and its clients (readers).

``POST /encode`` answers::

    {"model": {"arch", "dim", "fingerprint", "weights", "offline_backbone", "has_head"},
     "results": [{"vector": "<base64 float32 little-endian>", "width", "height",
                  "predictions": [{"breed", "breed_id", "probability"}],   # best first
                  "dog_score": 0.97,              # is it a dog; absent if it cannot tell
                  "dogs": [{"box": [left, top, right, bottom], "score"}]}  # where (optional)
                 | {"error": {"code", "message"}}],                         # one per image
     "timings": {"decode_ms", "encode_ms"}}

``GET /info`` answers ``{"model": {...}, "calibration": {...}, ...}``: the model as above and
its whole :class:`Calibration`.

``dogs`` (each dog found, most sure first, boxes as fractions of the upright photo) is there
only when the encoder localises (``ENCODER_LOCALISE``; ``/info`` says which localiser runs).

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
class Calibration:
    """Numbers measured with a model's vector recipe, carried by the model: each backbone has
    its own (``encoder/backbones``), a checkpoint keeps the ones it was made with, and the
    encoder reports them in ``/info``. How each was measured: ``docs/calibration.md``.

    These defaults are the one place the numbers are written: the backbones that were measured
    take them, and a reader of a record older than them assumes them.
    """

    # The dog score: a logistic model over five log masses of the ImageNet softmax.
    dog_weights: tuple[float, ...] = (0.836, -1.8385, 0.3938, 0.2873, 1.0701)
    dog_bias: float = -4.7658
    dog_threshold: float = 0.5  # a photo is a dog from this score
    # The best result is a strong match from ``match_strong``, no close match below
    # ``match_weak``.
    match_strong: float = 0.93
    match_weak: float = 0.6
    # A stored photo whose look is at least this close to the query's is a near-copy of it
    # (re-saved, resized, lightly cropped) and is shown first, whatever its breed part says.
    copy_from: float = 0.92

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Calibration:
        """The calibration a record carries; what it lacks (an older record) is the default."""
        data = data or {}
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        if "dog_weights" in known:
            known["dog_weights"] = tuple(float(w) for w in known["dog_weights"])
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "dog_weights": list(self.dog_weights)}


DEFAULT_CALIBRATION = Calibration()


@dataclass(frozen=True)
class ModelInfo:
    """What produced a vector. ``fingerprint`` is a hash of the weights: equal means comparable."""

    arch: str
    dim: int
    fingerprint: str
    weights: str  # "checkpoint" | "imagenet" | "random"
    offline_backbone: bool = False
    has_head: bool = False
    # The model's :class:`Calibration`, as far as searches use it.
    dog_threshold: float = DEFAULT_CALIBRATION.dog_threshold
    match_strong: float = DEFAULT_CALIBRATION.match_strong
    match_weak: float = DEFAULT_CALIBRATION.match_weak
    # The vector's leading ``appearance_dims`` are the photo's look (pooled features), the rest
    # its breed distribution. Near-copies are judged on the look alone: two confident photos of
    # one breed share a breed distribution, so the whole vector would call them copies.
    # 0: the whole vector is appearance (older collections).
    appearance_dims: int = 0
    copy_from: float = DEFAULT_CALIBRATION.copy_from

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        calibration = {
            name: float(data[name])
            for name in ("dog_threshold", "match_strong", "match_weak", "copy_from")
            if name in data
        }
        return cls(
            arch=str(data["arch"]),
            dim=int(data["dim"]),
            fingerprint=str(data["fingerprint"]),
            weights=str(data.get("weights", "unknown")),
            offline_backbone=bool(data.get("offline_backbone", False)),
            has_head=bool(data.get("has_head", False)),
            appearance_dims=int(data.get("appearance_dims", 0)),
            **calibration,
        )

    def match_strength(self, similarity: float | None) -> str:
        """``strong``, ``weak`` or ``none`` (no close match) for the best result's similarity."""
        if similarity is None or similarity < self.match_weak:
            return "none"
        return "strong" if similarity >= self.match_strong else "weak"

    def appearance(self, vectors: np.ndarray) -> np.ndarray:
        """The look part of unit ``vectors`` (one or a stack), made unit again: what
        near-duplicate detection compares."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if not 0 < self.appearance_dims < vectors.shape[-1]:
            return vectors
        part = vectors[..., : self.appearance_dims]
        norms = np.linalg.norm(part, axis=-1, keepdims=True)
        return part / np.maximum(norms, 1e-12)

    def look_query(self, vector: np.ndarray) -> np.ndarray | None:
        """A query vector that ranks stored vectors by look alone (the breed part zeroed: under
        cosine its score is the look cosine times a constant), or None when the whole vector
        is look."""
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape[-1] != self.dim or not 0 < self.appearance_dims < self.dim:
            return None  # (or another model's vector: a re-index just moved the collection)
        query = np.zeros_like(vector)
        query[: self.appearance_dims] = self.appearance(vector)
        return query

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FoundDog:
    """A dog found in a photo: its box (left, top, right, bottom as fractions of the upright
    photo) and how sure the localiser is, in [0, 1]."""

    box: tuple[float, float, float, float]
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"box": [round(v, 4) for v in self.box], "score": round(self.score, 4)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FoundDog:
        left, top, right, bottom = (float(v) for v in data["box"])
        return cls((left, top, right, bottom), float(data["score"]))


@dataclass
class EncodedImage:
    """One image's outcome: a unit vector, or an error for this image alone."""

    vector: np.ndarray | None = None
    width: int = 0
    height: int = 0
    predictions: list[Prediction] = field(default_factory=list)
    dog_score: float | None = None  # how surely it is a dog; None: the model cannot tell
    dogs: list[FoundDog] | None = None  # None: the encoder does not localise
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.vector is not None

    def metadata(self) -> dict[str, Any]:
        """Everything but the vector (or the error): the JSON answer and the binary wire's
        header both carry exactly this, so a new field is added here once."""
        if self.vector is None:
            return {"error": {"code": self.error_code, "message": self.error_message}}
        out: dict[str, Any] = {"width": self.width, "height": self.height}
        if self.predictions:
            out["predictions"] = [p.to_dict() for p in self.predictions]
        if self.dog_score is not None:
            out["dog_score"] = self.dog_score
        if self.dogs is not None:
            out["dogs"] = [dog.to_dict() for dog in self.dogs]
        return out

    def to_dict(self, *, vectors_as_json: bool = False) -> dict[str, Any]:
        if self.vector is None:
            return self.metadata()
        vector = self.vector.tolist() if vectors_as_json else pack_vector(self.vector)
        return {"vector": vector, **self.metadata()}

    @classmethod
    def from_metadata(cls, data: dict[str, Any], vector: np.ndarray | None) -> EncodedImage:
        """The inverse of :meth:`metadata`, given the vector the answer carried."""
        if "error" in data:
            error = data["error"]
            return cls(error_code=error.get("code"), error_message=error.get("message"))
        return cls(
            vector=vector,
            width=int(data.get("width", 0)),
            height=int(data.get("height", 0)),
            predictions=[Prediction(**p) for p in data.get("predictions", [])],
            dog_score=data.get("dog_score"),
            dogs=[FoundDog.from_dict(d) for d in data["dogs"]] if "dogs" in data else None,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncodedImage:
        vector = None if "error" in data else unpack_vector(data["vector"])
        return cls.from_metadata(data, vector)
