"""PyTorch datasets over prepared face crops (the output of ``faces prepare``).

Three views of the same manifest, one per way the four systems use faces:

- :class:`CropDataset`: one item per crop (FaceFound, FAHR-Face: one photo, one prediction);
- :class:`SubjectDataset`: up to ``k`` crops of one subject stacked with a mask
  (DigitalShadow: several photos per person -> one risk);
- :class:`FrameSequenceDataset`: the frames of one video in time order, padded
  to ``length`` with a mask and the timestamps (Emoface: expression dynamics).

Targets come from a per-subject label table; missing labels are NaN (the
losses mask them). Images are float32 (3, H, W), normalised with ImageNet
mean/std as timm backbones expect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from facehealth.data.spec import DatasetSpec
from facehealth.data.stimuli import StimulusMarker, markers_for, slice_onsets
from facehealth.errors import SchemaError
from facehealth.faces.motion import aligned_landmarks, expression_motion

__all__ = [
    "CropDataset",
    "SubjectDataset",
    "FrameSequenceDataset",
    "DatasetSpec",
    "make_dataset",
    "item_subjects",
    "load_crop",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
Augmenter = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def load_crop(path: str | Path, size: int | None = None) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SchemaError(f"crop not readable: {path} (was the prepared folder moved or cleaned?)")
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if size is not None and image.shape[0] != size:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    x = (image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


class _Base(Dataset):
    def __init__(
        self,
        prepared_dir: str | Path,
        manifest: pd.DataFrame | None,
        labels: pd.DataFrame | None,
        targets: Sequence[str],
        subjects: Sequence[str] | None,
        size: int | None,
        augment: Augmenter | None,
        seed: int,
    ) -> None:
        self.root = Path(prepared_dir)
        if manifest is None:
            manifest = pd.read_parquet(self.root / "manifest.parquet")
        if subjects is not None:
            manifest = manifest[manifest["subject_id"].isin(set(subjects))]
        self.manifest = manifest.reset_index(drop=True)
        self.targets = list(targets)
        if self.targets:
            if labels is None:
                raise SchemaError("targets were requested but no label table was given")
            missing = [t for t in self.targets if t not in labels.columns]
            if missing:
                raise SchemaError(f"label table lacks target column(s): {', '.join(missing)}")
            table = labels.drop_duplicates("subject_id").set_index("subject_id")[self.targets]
            self._labels = {
                sid: np.asarray(pd.to_numeric(row, errors="coerce"), np.float32) for sid, row in table.iterrows()
            }
        else:
            self._labels = {}
        self.size, self.augment, self.seed = size, augment, seed
        self.epoch = 0  # set by the training loop so augmentations differ between epochs

    def _target(self, subject: str) -> torch.Tensor:
        if not self.targets:
            return torch.zeros(0)
        values = self._labels.get(subject)
        return torch.from_numpy(values if values is not None else np.full(len(self.targets), np.nan, np.float32))

    def _image(self, rel: str, rng: np.random.Generator) -> torch.Tensor:
        image = load_crop(self.root / rel, self.size)
        if self.augment is not None:
            image = self.augment(image, rng)
        return _to_tensor(image)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])


def _real(n: int, length: int) -> torch.Tensor:
    """(length,) mask: True for the first ``n`` (real) entries, False for padding."""
    mask = torch.zeros(length, dtype=torch.bool)
    mask[:n] = True
    return mask


def _stack_padded(images: list[torch.Tensor], length: int) -> torch.Tensor:
    """Stack ``images`` and pad with zero images up to ``length``."""
    return torch.stack(images + [torch.zeros_like(images[0])] * (length - len(images)))


def _still_photos(manifest: pd.DataFrame) -> pd.DataFrame:
    """Photo crops only, when the folder also holds video frames.

    Frames of a stimulus video show evoked expressions and come by the dozen per person; mixed into
    an image model's training they would outweigh the photos and shift what "a face" looks like.
    A folder of video frames alone (no photos) is used as is.
    """
    if "kind" not in manifest or not (manifest["kind"] == "image").any():
        return manifest
    return manifest[manifest["kind"] == "image"].reset_index(drop=True)


class CropDataset(_Base):
    """One item per crop: ``{"image": (3,H,W), "target": (T,), "subject_id": str}``."""

    def __init__(
        self,
        prepared_dir: str | Path,
        labels: pd.DataFrame | None = None,
        targets: Sequence[str] = (),
        subjects: Sequence[str] | None = None,
        size: int | None = None,
        augment: Augmenter | None = None,
        seed: int = 0,
        manifest: pd.DataFrame | None = None,
    ) -> None:
        super().__init__(prepared_dir, manifest, labels, targets, subjects, size, augment, seed)
        self.manifest = _still_photos(self.manifest)

    def __len__(self) -> int:
        return len(self.manifest)

    def __getitem__(self, index: int) -> dict:
        row = self.manifest.iloc[index]
        return {
            "image": self._image(row["crop_path"], self._rng(index)),
            "target": self._target(row["subject_id"]),
            "subject_id": row["subject_id"],
        }


class SubjectDataset(_Base):
    """One item per subject: ``image`` (k,3,H,W) and ``mask`` (k,) with True for real crops."""

    def __init__(
        self,
        prepared_dir: str | Path,
        labels: pd.DataFrame | None = None,
        targets: Sequence[str] = (),
        subjects: Sequence[str] | None = None,
        k: int = 4,
        size: int | None = None,
        augment: Augmenter | None = None,
        seed: int = 0,
        manifest: pd.DataFrame | None = None,
    ) -> None:
        super().__init__(prepared_dir, manifest, labels, targets, subjects, size, augment, seed)
        images = self.manifest[self.manifest["frame_index"].isna()] if "frame_index" in self.manifest else self.manifest
        self.groups = [(sid, list(g["crop_path"])) for sid, g in images.groupby("subject_id", sort=True)]
        self.k = k

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> dict:
        subject, paths = self.groups[index]
        rng = self._rng(index)
        if len(paths) > self.k:  # a different subset each epoch when a subject has many photos
            paths = [paths[i] for i in sorted(rng.choice(len(paths), self.k, replace=False))]
        images = [self._image(p, rng) for p in paths]
        return {
            "image": _stack_padded(images, self.k),
            "mask": _real(len(images), self.k),
            "target": self._target(subject),
            "subject_id": subject,
        }


class FrameSequenceDataset(_Base):
    """One item per video: ``image`` (length,3,H,W), ``mask`` (length,), ``time`` (length,) in seconds.

    Longer videos are sampled evenly down to ``length`` frames (the whole stimulus
    sequence stays covered); shorter ones are padded. With ``landmarks=True`` an item also
    holds ``landmarks`` (length, 68, 2): each frame's expression motion
    (:func:`facehealth.faces.motion.expression_motion`, zeros where padded). Image
    augmentation does not touch them: they were measured on the full-resolution frame.
    ``images=False`` leaves the crops unread and out of the item (landmarks-only models).
    """

    def __init__(
        self,
        prepared_dir: str | Path,
        labels: pd.DataFrame | None = None,
        targets: Sequence[str] = (),
        subjects: Sequence[str] | None = None,
        length: int = 32,
        size: int | None = None,
        augment: Augmenter | None = None,
        seed: int = 0,
        manifest: pd.DataFrame | None = None,
        landmarks: bool = False,
        images: bool = True,
        bins: int = 0,
    ) -> None:
        super().__init__(prepared_dir, manifest, labels, targets, subjects, size, augment, seed)
        frames = self.manifest[self.manifest["frame_index"].notna()]
        self.videos = [(mid, g.sort_values("frame_index")) for mid, g in frames.groupby("media_id", sort=True)]
        self.length = length
        self.landmarks = landmarks
        self.images = images
        self.bins = bins
        # Stimulus sidecars beside the source videos, read once (a count mismatch fails here, early).
        self.markers: dict[str, tuple[StimulusMarker, ...] | None] = {}
        if bins:
            for mid, g in self.videos:
                source = g["source"].iloc[0] if "source" in g.columns else None
                markers = markers_for(source) if source else None
                slice_onsets(markers, 1.0, bins, str(source))  # validates the count
                self.markers[mid] = markers
        self.aligned = sum(m is not None for m in self.markers.values())  # videos with a sidecar
        if not (images or landmarks):
            raise SchemaError("a frame sequence needs images, landmarks or both")
        if landmarks and not {"landmarks", "matrix"} <= set(self.manifest.columns):
            raise SchemaError(f"{self.root}: the manifest has no landmarks/matrix columns for landmark motion")

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict:
        media_id, frames = self.videos[index]
        if len(frames) > self.length:
            frames = frames.iloc[np.linspace(0, len(frames) - 1, self.length).round().astype(int)]
        n = len(frames)
        mask = _real(n, self.length)
        times = torch.zeros(self.length)
        times[:n] = torch.tensor(frames["timestamp"].to_numpy(np.float32))
        subject = frames["subject_id"].iloc[0]
        item = {
            "mask": mask,
            "time": times,
            "target": self._target(subject),
            "subject_id": subject,
            "media_id": media_id,
        }
        if self.bins:
            last = float(times[:n].max()) if n else 0.0
            item["onsets"] = torch.from_numpy(slice_onsets(self.markers[media_id], last, self.bins))
        if self.images:
            # One augmentation draw for the whole clip: frames must stay consistent in time.
            seed = int(self._rng(index).integers(2**31))
            images = [self._image(p, np.random.default_rng(seed)) for p in frames["crop_path"]]
            item["image"] = _stack_padded(images, self.length)
        if self.landmarks:
            # Motion relative to the median of the frames used, so training and prediction
            # (which samples a clip the same way) see the same reference shape.
            motion = torch.zeros(self.length, 68, 2)
            aligned = aligned_landmarks(np.stack(frames["landmarks"].to_numpy()), np.stack(frames["matrix"].to_numpy()))
            motion[:n] = torch.from_numpy(expression_motion(aligned).astype(np.float32))
            item["landmarks"] = motion
        return item


def make_dataset(
    spec: DatasetSpec,
    prepared_dir: str | Path,
    labels: pd.DataFrame,
    targets: Sequence[str],
    subjects: Sequence[str],
    augment: Augmenter | None = None,
    seed: int = 0,
) -> CropDataset | SubjectDataset | FrameSequenceDataset:
    """The dataset of ``spec.input`` over the crops of ``subjects``."""
    common = dict(subjects=subjects, size=spec.size, augment=augment, seed=seed)
    if spec.input == "subject":
        return SubjectDataset(prepared_dir, labels, targets, k=spec.images_per_subject, **common)
    if spec.input == "video":
        return FrameSequenceDataset(
            prepared_dir,
            labels,
            targets,
            length=spec.frames,
            landmarks=spec.frame_input != "pixels",
            images=spec.frame_input != "landmarks",
            bins=spec.time_bins,
            **common,
        )
    if spec.input != "image":
        raise SchemaError(f"input must be image, subject or video, got {spec.input!r}")
    return CropDataset(prepared_dir, labels, targets, **common)


def item_subjects(data: CropDataset | SubjectDataset | FrameSequenceDataset) -> list[str]:
    """The subject of each item of any of the three datasets, in item order."""
    if isinstance(data, SubjectDataset):
        return [sid for sid, _ in data.groups]
    if isinstance(data, FrameSequenceDataset):
        return [frames["subject_id"].iloc[0] for _, frames in data.videos]
    return data.manifest["subject_id"].tolist()
