"""Shared library of dogsearch: imported by both services and the scripts; never imports torch."""
