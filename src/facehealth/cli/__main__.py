"""``python -m facehealth.cli`` (used by torchrun for multi-process pretraining)."""

from facehealth.cli import app

app()
