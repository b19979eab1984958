"""Fine-tuning and evaluation of the encoder: labelled images, retrieval metrics, reports."""
