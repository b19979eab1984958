"""Test support shared by the test packages: synthetic datasets, fakes, helpers."""
