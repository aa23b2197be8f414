"""Fixtures for the data tests live in tests/conftest.py (shared with models and training)."""
