"""The encoder's application factory. Each gunicorn worker calls it and loads its own model."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from flask import Flask

from encoder.config import EncoderSettings, load_settings
from encoder.localise import choose_localiser
from encoder.model import Encoder, load_encoder
from encoder.onnx_backend import choose_embed, default_cache_dir
from encoder.service import EncodingService
from encoder.spatial import spatial_net
from encoder.views import api
from services.errors import register_error_handlers
from services.health import health_blueprint
from services.logs import configure_logging
from services.metrics import install_metrics

log = logging.getLogger(__name__)


def create_app(settings: EncoderSettings | None = None, encoder: Encoder | None = None) -> Flask:
    """Build the app; tests inject ``settings`` and a small ``encoder``. Without ``settings``,
    a bad or unknown ``ENCODER_*`` variable stops the start (``SettingsError``)."""
    settings = settings or load_settings(EncoderSettings)
    configure_logging("encoder", settings.log_level)
    if settings.threads > 0:
        torch.set_num_threads(settings.threads)
    encoder = encoder or load_encoder(
        settings.arch, settings.weights, settings.checkpoint or None, settings.device
    )
    cache_dir = Path(settings.onnx_cache_dir) if settings.onnx_cache_dir else default_cache_dir()
    embed, backend = choose_embed(encoder, settings.backend, cache_dir, settings.threads)
    localiser = choose_localiser(settings.localise, encoder)
    service = EncodingService(encoder, settings, embed, backend, localiser)
    service.start()

    app = Flask(__name__)
    # Room for the largest allowed request plus multipart overhead; werkzeug answers 413 past it.
    app.config["MAX_CONTENT_LENGTH"] = (
        settings.max_image_bytes * settings.max_images_per_request + 1024 * 1024
    )
    app.extensions["encoding"] = service
    app.extensions["spatial"] = spatial_net(encoder)  # for /explain's heat maps
    register_error_handlers(app)
    install_metrics(app)
    app.register_blueprint(health_blueprint(service.readiness))
    app.register_blueprint(api)
    log.info(
        "encoder ready",
        extra={
            "settings": settings.model_dump(),
            "model": encoder.info.to_dict(),
            "device": str(encoder.device),
            "backend": backend,
            "localiser": settings.localise,
            "threads": torch.get_num_threads(),
        },
    )
    return app
