"""What the network's outputs say about a photo: its breed-aware vector, its breed guesses and
whether it shows a dog. One recipe for every backbone and both runtimes (torch, ONNX Runtime).

Chosen by measurement on a dev set of all 120 breeds (README, Quality; ``scripts/training``):

- **Breed logits** ``z``: the fine-tuned head's, or else the ImageNet classifier's logits at the
  120 Stanford breeds (every breed is an ImageNet class; matched by WordNet id, not by index).
- **Vector**: ``l2n(concat(l2n(pooled), 3 * dog * l2n(sqrt(softmax(z / 0.25)))))`` where
  ``dog`` is the ImageNet probability mass on the breeds (not the dog score below). Pooled
  features alone rank breeds poorly (P@1 0.61-0.69);
  the sharpened breed distribution is what makes photos of one breed lie close, and the pooled
  part keeps the closest look-alikes first within a breed. Scaling the breed part by the dog
  score keeps what is not a dog out of the breeds: a cat's breed distribution still peaks on
  some breed, and unscaled, 27 % of other photos came within 0.75 of a dog (0.2 % scaled),
  and a cat outranked every photo of the right breed for 5.2 % of dog queries (3.6 % scaled;
  P@1 0.787 against 0.782). Its dimension is the backbone's plus the number of breed classes.
- **Breed guesses**: ``softmax(z)``, highest first.
- **Is it a dog**: a logistic model over five numbers of the ImageNet softmax (the log mass on
  the 120 breeds, on domestic cats, on all felines, on everything else, and the log of the most
  likely breed), fitted by ``scripts/training/dog_score.py``; a dog from 0.5. The breed mass
  alone (the score before) took one cat in five for a dog; see the README, Quality.
- **Match strength**, from the similarity of the best result: *strong* from 0.93 (82 % of dog
  queries; their best match is the right breed 86 % of the time, against 45 % below; no other
  photo gets there), *no close match* below 0.6 (0.8 % of dog queries, 99 % of other photos),
  *weak* between. Similarity alone says little more: a wrong breed's photos are close too, so
  the breed guesses are shown beside it. (Chosen on the dev queries themselves: a few values
  were compared, so treat them as slightly optimistic.)
- **Near-copies**: the sharpened breed part can swing when a photo is re-saved or resized (one
  Lhasa photo's 70 % copy: cosine 0.61), so with the vector alone a lightly edited copy came
  first for 96.1 % of 616 copies (JPEG q60, 70 % size, EXIF-rotated, 5 % crop of 154 photos),
  against 100 % for the look alone. The search therefore also asks Milvus by look; a photo
  whose look cosine is >= 0.92 is a near-copy and comes first. At 0.92 about 95 % of 5 %-crops
  and 70 %-resizes qualify (all re-saves and rotations), and 1.5 % of queries find another
  photo that close (burst shots of one dog, mostly).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from torch import nn

from services.dataset import DEFAULT_BREEDS_FILE

TEMPERATURE = 0.25
BREED_WEIGHT = 3.0
DOG_THRESHOLD = 0.5
DOMESTIC_CATS, FELINES = range(281, 286), range(281, 294)  # ImageNet-1k class indices
DOG_WEIGHTS = (0.836, -1.8385, 0.3938, 0.2873, 1.0701)  # scripts/training/dog_score.py
DOG_BIAS = -4.7658
MATCH_STRONG, MATCH_WEAK = 0.93, 0.6
COPY_FROM = 0.92
RECIPE = (
    f"pooled+{BREED_WEIGHT:g}*breedmass*sqrt(softmax(breed_logits/{TEMPERATURE:g}))"
    f"|dog=logistic{DOG_WEIGHTS}+{DOG_BIAS}"
)


@cache
def imagenet_breed_indices(breeds_file: Path = DEFAULT_BREEDS_FILE) -> tuple[int, ...]:
    """The ImageNet-1k class index of each official breed, in ``data/breeds.txt`` order."""
    import timm

    synsets_file = Path(timm.__file__).parent / "data" / "_info" / "imagenet_synsets.txt"
    synsets = synsets_file.read_text().split()
    position = {wnid: index for index, wnid in enumerate(synsets)}
    folders = [line.strip() for line in breeds_file.read_text().splitlines() if line.strip()]
    return tuple(position[folder.split("-", 1)[0]] for folder in folders)


@dataclass
class Understood:
    vectors: torch.Tensor  # [N, dim + breeds] unit vectors
    breed_probabilities: torch.Tensor  # [N, breeds], each row sums to 1
    dog_scores: torch.Tensor  # [N] in [0, 1], see dog_score


def dog_features(imagenet_logits: torch.Tensor) -> torch.Tensor:
    """``[N, 5]``: the log masses on the breeds, domestic cats, felines and everything else,
    and the log of the most likely breed (see the module docstring)."""
    p = torch.softmax(imagenet_logits.float(), dim=1)
    breeds = torch.as_tensor(imagenet_breed_indices(), device=p.device)
    dog = p[:, breeds].sum(dim=1)
    cat = p[:, DOMESTIC_CATS.start : DOMESTIC_CATS.stop].sum(dim=1)
    felines = p[:, FELINES.start : FELINES.stop].sum(dim=1)
    other = (1 - dog - felines).clamp(min=0)
    top_breed = p[:, breeds].max(dim=1).values
    return torch.log(torch.stack([dog, cat, felines, other, top_breed], dim=1) + 1e-7)


def dog_score(imagenet_logits: torch.Tensor) -> torch.Tensor:
    """``[N]`` in [0, 1]: how surely each photo shows a dog."""
    weights = torch.tensor(DOG_WEIGHTS, device=imagenet_logits.device)
    return torch.sigmoid(dog_features(imagenet_logits) @ weights + DOG_BIAS)


def understand(
    features: torch.Tensor,
    imagenet_logits: torch.Tensor,
    head_logits: torch.Tensor | None = None,
) -> Understood:
    """The recipe of the module docstring, from the network's three outputs."""
    features, imagenet_logits = features.float(), imagenet_logits.float()
    breeds = torch.as_tensor(imagenet_breed_indices(), device=imagenet_logits.device)
    z = head_logits.float() if head_logits is not None else imagenet_logits[:, breeds]
    breed_part = nn.functional.normalize(torch.sqrt(torch.softmax(z / TEMPERATURE, dim=1)), dim=1)
    dog_scores = dog_score(imagenet_logits)
    # The breed part is weighted by the breed mass, as chosen on the dev set before the
    # logistic dog score existed: weighting it by the (less saturated) dog score instead cost
    # P@1 0.787 -> 0.782 there. The dog score decides only whether a photo is a dog.
    breed_mass = torch.softmax(imagenet_logits, dim=1)[:, breeds].sum(dim=1)
    pooled = nn.functional.normalize(features, dim=1)
    weight = BREED_WEIGHT * breed_mass[:, None]
    vectors = nn.functional.normalize(torch.cat([pooled, weight * breed_part], dim=1), dim=1)
    return Understood(vectors, torch.softmax(z, dim=1), dog_scores)
