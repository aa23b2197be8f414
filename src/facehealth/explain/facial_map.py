"""Emoface's digital facial map for a cohort: which landmarks differ between two diagnostic groups.

Two per-landmark measures, each tested between groups (Mann-Whitney U, Benjamini-Hochberg FDR)
and ranked (:func:`~facehealth.explain.landmark_stats.landmark_significance`):

- ``motion``: how far each landmark moves over a stimulus video (the data itself: where do the
  groups' faces move differently?);
- ``gradient``: with a trained video model, the gradient of its output for the first group's
  class at each landmark, averaged over a subject's frames (Emoface: where does the model look
  to tell the groups apart?). For a model that reads landmark motion (``frame_input``:
  landmarks or both) it is each landmark's gradient x motion summed over the clip
  (:func:`motion_attributions`): its contribution to the output. The gradient alone would not
  do: for a linear read-out of pooled motion it is the same for every subject, so it could not
  differ between groups. For a pixels-only model, the pixel gradient pooled around each landmark.

The ranking is painted on the cohort's standardized 2D and 3D faces and drawn as Gaussian
attention heatmaps over the mean face image, so results of different people share one face.

Output folder::

    landmark_significance.csv            motion: landmark, region, statistic, p, q, effect, rank, score
    digital_facial_map.png               the motion ranking on the mean face
    landmark_gradient_significance.csv   the same for the model's gradients (with a checkpoint)
    digital_facial_map_gradient.png
    attention_heatmap.png                Gaussian heatmaps of both rankings over the mean face image
    standard_face.png, standard_face_3d.png, standard_face.csv   the motion ranking on the standardized faces
    standard_face_gradient.png, standard_face_3d_gradient.png   the gradient ranking (with a checkpoint)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from facehealth.errors import InputError, SchemaError
from facehealth.explain.heatmap import gaussian_heatmap, overlay_heatmap
from facehealth.explain.landmark_map import crop_landmark_gradients, crop_landmarks, video_landmark_motion
from facehealth.explain.landmark_stats import digital_facial_map, landmark_significance
from facehealth.explain.standard_face import mean_face_image, mean_shape
from facehealth.explain.standard_face_3d import write_standard_faces

__all__ = ["FacialMapResult", "affective_facial_map", "motion_attributions"]


@dataclass(frozen=True)
class FacialMapResult:
    out_dir: Path
    groups: tuple[str, str]
    n_videos: dict[str, int]  # per group, videos with enough accepted frames
    n_excluded: int  # videos left out: too few accepted frames, or no label of either group
    motion: pd.DataFrame
    gradient: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)


def affective_facial_map(
    prepared_dir: str | Path,
    labels: pd.DataFrame,
    out_dir: str | Path,
    groups: tuple[str, str] = ("BPD", "MDD"),
    label_column: str = "affective",
    checkpoint: str | Path | None = None,
    frames_per_video: int = 8,
    max_faces: int = 200,
    seed: int = 0,
) -> FacialMapResult:
    """Landmark significance between ``groups`` from the stimulus videos of a prepared folder.

    Args:
        prepared_dir: ``faces prepare`` output holding the videos' frames (with landmarks).
        labels: one row per subject with ``subject_id`` and ``label_column``.
        out_dir: where the tables and PNGs go.
        groups: the two labels compared (group a, group b); effects > 0 when a is larger.
        checkpoint: a video model fine-tuned on the affective task; adds the gradient ranking.
        frames_per_video: frames (evenly spaced) whose gradients are averaged per video.
        max_faces: crops used for the mean face.

    Raises:
        InputError: ``groups`` are not two different labels, or ``prepared_dir`` is no prepared folder.
        SchemaError: no labelled videos of one of the groups.
    """
    root, out = Path(prepared_dir), Path(out_dir)
    groups = tuple(groups)
    if len(groups) != 2 or groups[0] == groups[1]:
        raise InputError(f"compare two different groups, got {', '.join(map(str, groups)) or 'none'}")
    if not (root / "manifest.parquet").is_file():
        raise InputError(f"{root}: not a `faces prepare` folder (no manifest.parquet)")
    manifest = pd.read_parquet(root / "manifest.parquet")
    if label_column not in labels.columns:
        raise SchemaError(f"labels have no '{label_column}' column; columns: {', '.join(labels.columns)}")
    group_of = labels.drop_duplicates("subject_id").set_index("subject_id")[label_column]
    absent = [g for g in groups if g not in set(group_of.dropna())]
    if absent:
        present = ", ".join(sorted(map(str, group_of.dropna().unique()))) or "none"
        raise SchemaError(
            f"no videos of group(s) {', '.join(absent)}: no subject has that '{label_column}' label "
            f"(labels present: {present})"
        )
    out.mkdir(parents=True, exist_ok=True)
    motion = video_landmark_motion(manifest)
    # Every video prepared counts, including one whose frames the gate all rejected (it has no
    # manifest row but an items.parquet row), so none is dropped without being counted.
    items = root / "items.parquet"
    n_all = (
        int((pd.read_parquet(items)["kind"] == "video").sum())
        if items.is_file()
        else manifest.loc[manifest["frame_index"].notna(), "media_id"].nunique()
    )
    motion = motion[motion["subject_id"].map(group_of).isin(groups)]
    per_group = {g: motion[motion["subject_id"].map(group_of) == g] for g in groups}
    empty = [g for g, part in per_group.items() if part.empty]
    if empty:
        raise SchemaError(f"no videos of group(s) {', '.join(empty)} with enough accepted frames in {root}")
    values = {g: part[list(range(68))].to_numpy(float) for g, part in per_group.items()}
    table = landmark_significance(values[groups[0]], values[groups[1]])
    faces = manifest.sample(min(max_faces, len(manifest)), random_state=seed)
    mean_lm = mean_shape(crop_landmarks(faces))
    background = mean_face_image(root, list(faces["crop_path"]))
    files = {"motion_csv": out / "landmark_significance.csv"}
    files["motion_map"] = digital_facial_map(
        table,
        mean_lm,
        out / "digital_facial_map.png",
        files["motion_csv"],
        title=f"landmark motion, {groups[0]} vs {groups[1]} (score 1 = most significant)",
        image=background,
    )
    gradient = None
    if checkpoint is not None:
        gradient = _gradient_significance(checkpoint, root, manifest, per_group, groups, frames_per_video)
        files["gradient_csv"] = out / "landmark_gradient_significance.csv"
        files["gradient_map"] = digital_facial_map(
            gradient,
            mean_lm,
            out / "digital_facial_map_gradient.png",
            files["gradient_csv"],
            title=f"model gradient at landmarks, {groups[0]} vs {groups[1]}",
            image=background,
        )
    files["heatmap"] = _heatmaps(background, mean_lm, table, gradient, out / "attention_heatmap.png")
    more = {} if gradient is None else {"gradient": gradient.sort_values("landmark")["score"].to_numpy()}
    standard = write_standard_faces(root, out, table["score"].to_numpy(), max_faces, more_scores=more)
    files.update({f"standard_{k}": v for k, v in standard.items()})
    n_videos = {g: int(len(part)) for g, part in per_group.items()}
    return FacialMapResult(out, groups, n_videos, n_all - sum(n_videos.values()), table, gradient, files)


def _gradient_significance(
    checkpoint: str | Path,
    root: Path,
    manifest: pd.DataFrame,
    per_group: dict[str, pd.DataFrame],
    groups: tuple[str, str],
    frames_per_video: int,
) -> pd.DataFrame:
    """Mean landmark gradient of the first group's class logit over a few frames of each video."""
    from facehealth.models.predictor import model_from_checkpoint

    model, meta = model_from_checkpoint(checkpoint)
    task = next((t for t in model.tasks if t.kind == "multiclass"), None)
    if task is None or groups[0] not in task.classes:
        heads = ", ".join(f"{t.name} ({t.kind})" for t in model.tasks)
        raise SchemaError(f"{checkpoint}: no multi-class head with the class '{groups[0]}' (heads: {heads})")
    index = list(task.classes).index(groups[0])
    if meta.uses_motion:
        return _motion_gradient_significance(model, meta, root, manifest, per_group, groups, task.name, index)
    values = {}
    for g, part in per_group.items():
        rows = []
        for media_id in part.index:
            frames = manifest[manifest["media_id"] == media_id].sort_values("frame_index")
            pick = np.linspace(0, len(frames) - 1, min(frames_per_video, len(frames))).round().astype(int)
            grads = crop_landmark_gradients(model, root, frames.iloc[pick], task.name, index, meta.img_size)
            rows.append(grads.mean(axis=0))
        values[g] = np.stack(rows)
    return landmark_significance(values[groups[0]], values[groups[1]])


def motion_attributions(model: torch.nn.Module, item: dict, task: str, index: int) -> np.ndarray:
    """Gradient x input of one output for a clip's landmark-motion input, per landmark -> (68,).

    ``item`` is one :class:`~facehealth.data.datasets.FrameSequenceDataset` item (built with
    ``landmarks=True``; ``image`` may be absent for a landmarks-only model). Landmark i gets
    ``sum_t grad_ti . motion_ti`` over the clip's frames (x and y): to first order, how much its
    movement moved the output (Simonyan et al. 2014; Shrikumar et al. 2017, "gradient x input").
    For a model linear in the motion, such as time-slice or mean pooling with a linear head,
    the values plus the output at zero motion add up to the output exactly.
    """
    from facehealth.models.multitask import batch_inputs

    model.eval()
    inputs = batch_inputs({k: v.unsqueeze(0) for k, v in item.items() if isinstance(v, torch.Tensor)}, "cpu")
    motion = inputs["landmarks"].detach().clone().requires_grad_(True)
    out = model(**{**inputs, "landmarks": motion})[task][0, index]
    (grad,) = torch.autograd.grad(out, motion)
    return (grad[0] * motion[0].detach()).sum(dim=(0, 2)).double().numpy()  # padded frames: motion 0


def _motion_gradient_significance(
    model: torch.nn.Module,
    meta: dict,
    root: Path,
    manifest: pd.DataFrame,
    per_group: dict[str, pd.DataFrame],
    groups: tuple[str, str],
    task: str,
    index: int,
) -> pd.DataFrame:
    """:func:`motion_attributions` of every labelled video of the two groups, compared between them."""
    from facehealth.data.datasets import FrameSequenceDataset

    videos = [mid for part in per_group.values() for mid in part.index]
    data = FrameSequenceDataset(
        root,
        length=meta.frames,
        size=meta.img_size,
        manifest=manifest[manifest["media_id"].isin(videos)],
        landmarks=True,
        images=meta.frame_input != "landmarks",
        bins=meta.dataset_spec().time_bins,  # the slices the model was trained on (stimulus onsets)
    )
    position = {mid: i for i, (mid, _) in enumerate(data.videos)}
    values = {
        g: np.stack([motion_attributions(model, data[position[mid]], task, index) for mid in part.index])
        for g, part in per_group.items()
    }
    return landmark_significance(values[groups[0]], values[groups[1]])


def _heatmaps(
    background: np.ndarray, mean_lm: np.ndarray, motion: pd.DataFrame, gradient: pd.DataFrame | None, path: Path
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("landmark motion", motion)] + ([("model gradient", gradient)] if gradient is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6), squeeze=False)
    for ax, (title, table) in zip(axes[0], panels):
        weights = np.nan_to_num(table.sort_values("landmark")["score"].to_numpy(float))
        heat = gaussian_heatmap(mean_lm, weights**4, background.shape[:2])  # ^4: the top landmarks stand out
        ax.imshow(overlay_heatmap(background, heat))
        ax.set_title(f"Gaussian attention: {title}", fontsize=9)
        ax.set_axis_off()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
