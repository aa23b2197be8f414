"""Checkpoints: weights as safetensors plus a JSON file of typed, versioned metadata.

``name.safetensors`` holds only tensors (safe to load: no pickled code); ``name.json`` says
what produced them. Fine-tuned models carry a :class:`CheckpointMeta`, MAE encoders a
:class:`PretrainMeta`; both are written and read only here (``to_json`` / ``from_json``), so no
caller indexes a metadata dict by string key. Optimizer and RNG state for exact resume live
separately in ``trainer_state.pt`` (see ``facehealth.train.engine``).

Version history of the metadata (``version`` in the JSON):
- 1 (no ``version`` key): untyped dicts, no record of the training subjects.
- 2: typed; fine-tuned checkpoints record the subject ids of every split they were trained,
  validated and tested with, a cohort fingerprint, and whether the cohort was synthetic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from facehealth.atomic import sha256_file, staged
from facehealth.data.spec import DatasetSpec
from facehealth.errors import CheckpointVersionError, ConfigError, CorruptFileError, ModelNotFoundError
from facehealth.models.calibration import PhotoCalibration
from facehealth.models.tasks import TaskSpec

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHECKPOINT_VERSION",
    "CheckpointMeta",
    "PretrainMeta",
    "save_checkpoint",
    "stage_checkpoint",
    "load_checkpoint",
    "verify_weights",
    "read_meta",
    "data_hash",
]

CHECKPOINT_VERSION = 2


@dataclass(frozen=True)
class CheckpointMeta:
    """What a fine-tuned multi-task checkpoint is (``checkpoint-best.json``).

    The fields are what is needed to rebuild the model (backbone ... class_weights), to prepare
    inputs exactly as in training (faces_config, img_size, input ... images_per_subject), and to
    evaluate it honestly (splits, cohort_fingerprint, synthetic).
    """

    STAGE: ClassVar[str] = "finetune"

    backbone: str
    img_size: int
    tasks: tuple[TaskSpec, ...]
    input: str = "image"  # image | subject | video (FinetuneConfig.input)
    pooling: str = "mean"
    frames: int = 32  # video models: frames sampled per clip
    frame_input: str = "pixels"  # video models: pixels | landmarks | both
    time_bins: int = 4
    # Trained on videos with stimulus sidecars: time slices start at the stimulus onsets, so a video
    # without one is cut into equal slices and its prediction says so.
    stimulus_aligned: bool = False
    colour_grid: int = 0  # regional-colour features beside the backbone's (models/colour.py); 0 = none
    images_per_subject: int = 4
    target_mean: dict[str, list[float]] = field(default_factory=dict)
    target_std: dict[str, list[float]] = field(default_factory=dict)
    pos_weight: dict[str, float] = field(default_factory=dict)
    class_weights: dict[str, list[float]] = field(default_factory=dict)
    faces_config: dict[str, Any] = field(default_factory=dict)  # FacesConfig the crops were prepared with
    # Subject ids per split as used in training (train/val chose the weights, head penalty and
    # stopping epoch); evaluation refuses to score any of train/val as held out.
    splits: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cohort_fingerprint: str = ""  # data_hash of the cohort's subject ids
    synthetic: bool = False  # trained on a synthetic cohort: person-facing outputs must say so
    # Interval half-widths for 1..K-photo estimates, from validation subjects that model selection
    # did not use (their ids are in calibration.subjects); None when too few were left.
    calibration: PhotoCalibration | None = None
    best_epoch: int = 0
    history: tuple[dict[str, float], ...] = ()
    init: dict[str, Any] = field(default_factory=dict)  # what the backbone was initialised from
    head_init: dict[str, Any] | None = None  # LP-FT head fit report
    config: dict[str, Any] = field(default_factory=dict)  # the resolved FinetuneConfig

    @property
    def uses_motion(self) -> bool:
        """A video model that reads landmark motion (needs a clip, not a still)."""
        return self.frame_input != "pixels"

    def dataset_spec(self) -> DatasetSpec:
        """How to build this model's input items from prepared crops (as in training)."""
        bins = self.time_bins if self.pooling == "timebins" else 0
        return DatasetSpec(self.input, self.img_size, self.images_per_subject, self.frames, self.frame_input, bins)

    @property
    def trained_on(self) -> frozenset[str]:
        """Subjects whose labels shaped the model: the train and validation splits."""
        return frozenset(self.splits.get("train", ())) | frozenset(self.splits.get("val", ()))

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["tasks"] = [t.as_dict() for t in self.tasks]
        data["splits"] = {k: list(v) for k, v in self.splits.items()}
        data["history"] = list(self.history)
        data["calibration"] = self.calibration.to_json() if self.calibration else None
        return {"version": CHECKPOINT_VERSION, "stage": self.STAGE, **data}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "checkpoint") -> CheckpointMeta:
        """Parse metadata written by :meth:`to_json`.

        Raises:
            ConfigError: not a fine-tuned checkpoint.
            CheckpointVersionError: written by another version of facehealth.
        """
        _check(data, cls.STAGE, source, "pass the checkpoint-best.safetensors written by `facehealth finetune`")
        known = {k: v for k, v in data.items() if k in {f.name for f in fields(cls)}}
        known["tasks"] = tuple(TaskSpec.from_dict(t) for t in data["tasks"])
        known["splits"] = {k: tuple(map(str, v)) for k, v in (data.get("splits") or {}).items()}
        known["history"] = tuple(data.get("history") or ())
        known["calibration"] = PhotoCalibration.from_json(data["calibration"]) if data.get("calibration") else None
        return cls(**known)


@dataclass(frozen=True)
class PretrainMeta:
    """What an MAE-pretrained encoder checkpoint is (``checkpoint-last.json``)."""

    STAGE: ClassVar[str] = "mae_pretrain"

    backbone: str
    img_size: int
    epoch: int
    loss: float
    history: tuple[float, ...] = ()
    n_images: int = 0
    data_hash: str = ""  # data_hash of the crop paths it saw
    # Subjects whose photos it saw: evaluation integrity needs them to be training subjects only.
    subjects: tuple[str, ...] = ()
    init_from: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["history"], data["subjects"] = list(self.history), list(self.subjects)
        return {"version": CHECKPOINT_VERSION, "stage": self.STAGE, **data}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "checkpoint") -> PretrainMeta:
        _check(data, cls.STAGE, source, "pass the checkpoint-last.safetensors written by `facehealth pretrain`")
        known = {k: v for k, v in data.items() if k in {f.name for f in fields(cls)}}
        known["history"] = tuple(data.get("history") or ())
        known["subjects"] = tuple(map(str, data.get("subjects") or ()))
        return cls(**known)


def _check(data: Mapping[str, Any], stage: str, source: str, hint: str) -> None:
    version = data.get("version", 1)
    if version != CHECKPOINT_VERSION:
        older = isinstance(version, int) and version < CHECKPOINT_VERSION
        raise CheckpointVersionError(
            f"{source}: metadata version {version} was written by "
            f"{'an older' if older else 'another'} facehealth; this one reads version {CHECKPOINT_VERSION}. "
            + (
                "Re-run the stage that made it (its config is in the JSON's 'config')."
                if older
                else "Upgrade facehealth."
            )
        )
    if data.get("stage") != stage:
        raise ConfigError(f"{source}: a '{data.get('stage')}' checkpoint where a '{stage}' one is needed; {hint}")


Meta = CheckpointMeta | PretrainMeta


def stage_checkpoint(stem: str | Path, state_dict: Mapping[str, torch.Tensor], metadata: Meta) -> tuple[Path, Path]:
    """Write ``stem.safetensors`` and ``stem.json`` to their staged (``.tmp``) paths; returns the final paths.

    The JSON records the weights' SHA-256, so a load can tell a checkpoint whose two files do not
    belong together (a crash between their renames) or whose weights were truncated.
    """
    from safetensors.torch import save_file

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights, meta_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    save_file(tensors, str(staged(weights)), metadata={"format": "pt", "producer": "facehealth"})
    body = {**metadata.to_json(), "weights_sha256": sha256_file(staged(weights))}
    staged(meta_path).write_text(json.dumps(body, indent=2, default=str))
    return weights, meta_path


def save_checkpoint(stem: str | Path, state_dict: Mapping[str, torch.Tensor], metadata: Meta) -> Path:
    """Write ``stem.safetensors`` and ``stem.json`` (each atomically); returns the .safetensors path.

    A crash between the two renames leaves new weights beside old metadata: loading then fails on
    the recorded hash rather than pairing them. Use :func:`stage_checkpoint` with
    :func:`facehealth.atomic.commit_group` where the pair must be replaced as one.
    """
    weights, meta_path = stage_checkpoint(stem, state_dict, metadata)
    for path in (weights, meta_path):
        staged(path).replace(path)
    return weights


def _weights_path(path: str | Path) -> Path:
    path = Path(path)
    return path if path.suffix == ".safetensors" else path.with_suffix(".safetensors")


def _meta_json(path: str | Path) -> dict[str, Any]:
    meta_path = _weights_path(path).with_suffix(".json")
    if not meta_path.is_file():
        raise ModelNotFoundError(f"checkpoint metadata not found: {meta_path}")
    try:
        return json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{meta_path}: not valid JSON ({exc})") from exc


def verify_weights(path: str | Path) -> None:
    """Check a .safetensors file against the SHA-256 its JSON recorded (checkpoints older than the
    record, or weights without a JSON beside them, are not checked).

    Raises:
        CorruptFileError: the bytes differ from those written.
    """
    weights = _weights_path(path)
    meta_path = weights.with_suffix(".json")
    if not meta_path.is_file():
        return
    try:
        expected = json.loads(meta_path.read_text()).get("weights_sha256")
    except (json.JSONDecodeError, AttributeError):
        return  # not our metadata; the weights are read as they are
    if expected and sha256_file(weights) != expected:
        raise CorruptFileError(
            f"{weights}: its contents do not match the SHA-256 recorded in {meta_path.name}; the file was "
            "truncated or replaced after it was written (e.g. training was killed while saving). "
            "Re-run the stage that wrote it, or restore both files together."
        )


def read_meta(path: str | Path, kind: type[Meta] = CheckpointMeta) -> Meta:
    """The metadata beside a checkpoint (no weights are read)."""
    return kind.from_json(_meta_json(path), str(_weights_path(path).with_suffix(".json")))


def load_checkpoint(path: str | Path, kind: type[Meta] = CheckpointMeta) -> tuple[dict[str, torch.Tensor], Meta]:
    """Load weights and their typed metadata from a ``.safetensors`` file, verified by hash."""
    from safetensors.torch import load_file

    path = _weights_path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"checkpoint not found: {path}")
    meta = read_meta(path, kind)
    verify_weights(path)
    return load_file(str(path)), meta


def data_hash(items: Iterable[str]) -> str:
    """Order-independent fingerprint of a dataset's item list (e.g. crop paths or subject ids)."""
    h = hashlib.sha256()
    for item in sorted(items):
        h.update(item.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]
