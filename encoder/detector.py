"""Dogs found by a real detector: torchvision's COCO Faster R-CNN (class 18 is "dog").

The option for where its weights can be had (downloaded once into ``$TORCH_HOME``, like
ResNet-152's); offline, :mod:`encoder.localise` finds dogs with the encoder's own classifier.
``ENCODER_LOCALISE=detector`` picks this one and fails at start, with what to do, when the
weights are neither cached nor downloadable.
"""

from __future__ import annotations

import socket

import torch
from PIL import Image
from torchvision.transforms import functional as tf

from encoder.checkpoint import WeightsUnavailable
from services.encoder_wire import FoundDog

COCO_DOG = 18
MIN_SCORE = 0.5
DOWNLOAD_TIMEOUT_S = 30


class DetectorLocaliser:
    name = "detector"

    def __init__(self, device: torch.device, min_score: float = MIN_SCORE):
        from torchvision.models.detection import (
            FasterRCNN_MobileNet_V3_Large_FPN_Weights,
            fasterrcnn_mobilenet_v3_large_fpn,
        )

        weights = FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        try:
            state = weights.get_state_dict(progress=False, check_hash=True)
        except Exception as error:  # URLError, OSError, hash mismatch...
            raise WeightsUnavailable(
                f"the COCO detector's weights could not be had ({type(error).__name__}: "
                f"{error}). Download {weights.url} into $TORCH_HOME/hub/checkpoints, or set "
                "ENCODER_LOCALISE=cam (the offline default) or off."
            ) from None
        finally:
            socket.setdefaulttimeout(previous)
        model = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None)
        model.load_state_dict(state)
        self.model = model.eval().to(device)
        self.device = device
        self.min_score = min_score

    @torch.inference_mode()
    def __call__(self, image: Image.Image) -> list[FoundDog]:
        found = self.model([tf.to_tensor(image.convert("RGB")).to(self.device)])[0]
        dogs = []
        for box, label, score in zip(found["boxes"], found["labels"], found["scores"], strict=True):
            if int(label) == COCO_DOG and float(score) >= self.min_score:
                left, top, right, bottom = box.tolist()
                fractions = (
                    left / image.width,
                    top / image.height,
                    right / image.width,
                    bottom / image.height,
                )
                dogs.append(FoundDog(fractions, float(score)))
        return sorted(dogs, key=lambda dog: -dog.score)
