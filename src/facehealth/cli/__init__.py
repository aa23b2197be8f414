"""The ``facehealth`` command line: one command per stage, thin over the Python API.

Each module registers its commands on the shared Typer apps of :mod:`facehealth.cli.common`, in
the order ``--help`` lists them (the import order below). Heavy libraries are imported inside the
commands so ``facehealth --help`` and the face commands start fast (they never import torch).
"""

# isort: skip_file
from facehealth.cli.common import app
from facehealth.cli import faces  # noqa: F401 - each import registers its commands
from facehealth.cli import cohort  # noqa: F401
from facehealth.cli import models  # noqa: F401
from facehealth.cli import export  # noqa: F401
from facehealth.cli import studies  # noqa: F401
from facehealth.cli import explain  # noqa: F401
from facehealth.cli import analysis  # noqa: F401
from facehealth.cli import pipeline  # noqa: F401
from facehealth.cli import live  # noqa: F401
from facehealth.cli import serve  # noqa: F401

__all__ = ["app"]
