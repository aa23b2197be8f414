"""Backbones (timm), the masked autoencoder, and the clinical heads' losses. Importing this is light."""

from facehealth.models.registry import create_model, get_spec, list_models

__all__ = ["create_model", "get_spec", "list_models"]
