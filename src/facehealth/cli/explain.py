"""``facehealth explain``: saliency of a checkpoint (the default), and Emoface's landmark analyses.

``explain --model CKPT --out DIR --input PHOTO`` (or ``--prepared``) is the saliency explainer, also
spelled ``explain saliency``; ``explain facial-map``, ``heatmap`` and ``standard-face`` run the
digital facial map, its Gaussian heatmaps and the standardized face on a user's own cohort.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facehealth.cli.common import app, err, fail, out
from facehealth.errors import FaceHealthError, InputError

explain_app = typer.Typer(
    help="Explanations: saliency of a checkpoint (no subcommand, or `saliency`) and the landmark maps.",
    invoke_without_command=True,
)
app.add_typer(explain_app, name="explain")

Model = Annotated[Path | None, typer.Option(help="Fine-tuned checkpoint (checkpoint-best.safetensors).")]
OutDir = Annotated[Path | None, typer.Option("--out", help="Folder for the PNGs and tables.")]
Photos = Annotated[list[Path] | None, typer.Option("--input", help="A photo to explain (repeatable).")]
Prepared = Annotated[
    Path | None, typer.Option(help="A `faces prepare` folder: galleries and region tables over its subjects.")
]
Tasks = Annotated[
    list[str] | None, typer.Option(help="Target, e.g. cad or biomarkers:haemoglobin (repeatable; default all).")
]
Method = Annotated[str, typer.Option(help="gradcam, rollout (ViT) or ig (integrated gradients).")]
Subjects = Annotated[int, typer.Option(help="With --prepared: subjects drawn from the test split.")]
_SCORES_HELP = "Landmark score table: a CSV with a landmark index 0..67 and a score (e.g. facial-map's)."
Scores = Annotated[Path | None, typer.Option(help=_SCORES_HELP)]
LandmarkColumn = Annotated[str, typer.Option(help="The score table's landmark index column.")]
ScoreColumn = Annotated[str, typer.Option(help="The score table's (non-negative) score column.")]
MaxFaces = Annotated[int, typer.Option(help="Crops drawn at random for the mean face.")]
Seed = Annotated[int, typer.Option(help="Random seed (which crops make the mean face).")]


@explain_app.callback()
def explain_cmd(
    ctx: typer.Context,
    model: Model = None,
    out_dir: OutDir = None,
    photos: Photos = None,
    prepared: Prepared = None,
    task: Tasks = None,
    method: Method = "gradcam",
    subjects: Subjects = 32,
) -> None:
    """Saliency of each head: on your photos (mapped back onto them) or across a prepared cohort."""
    if ctx.invoked_subcommand is not None:
        if any((model, out_dir, photos, prepared, task)):  # they would be silently ignored
            fail(InputError(f"put the options after the subcommand: facehealth explain {ctx.invoked_subcommand} ..."))
        return
    _saliency(model, out_dir, photos, prepared, task, method, subjects)


@explain_app.command("saliency")
def saliency_cmd(
    model: Model = None,
    out_dir: OutDir = None,
    photos: Photos = None,
    prepared: Prepared = None,
    task: Tasks = None,
    method: Method = "gradcam",
    subjects: Subjects = 32,
) -> None:
    """The same as `explain` without a subcommand: Grad-CAM, rollout or IG on photos or a prepared cohort."""
    _saliency(model, out_dir, photos, prepared, task, method, subjects)


def _saliency(
    model: Path | None,
    out_dir: Path | None,
    photos: list[Path] | None,
    prepared: Path | None,
    task: list[str] | None,
    method: str,
    subjects: int,
) -> None:
    missing = [name for name, value in (("--model", model), ("--out", out_dir)) if value is None]
    if missing:
        fail(InputError(f"explain needs {' and '.join(missing)} (or a subcommand: facial-map, heatmap, standard-face)"))
    if not photos and prepared is None:
        fail(ValueError("give --input PHOTO (repeatable) or --prepared FOLDER"))
    if method not in ("gradcam", "rollout", "ig"):
        fail(ValueError(f"unknown method '{method}'; use gradcam, rollout or ig"))
    try:
        if prepared is not None:
            from facehealth.explain.cohort import explain_cohort

            result = explain_cohort(model, prepared, out_dir, task, n_subjects=subjects, method=method)
            out.print(f"{result.n_images} photos of {result.n_subjects} subjects; regions: {result.regions_csv}")
        from facehealth.explain.photo import explain_photo

        for photo in photos or []:
            explained = explain_photo(model, photo, out_dir, task, method=method)
            regions = "; ".join(f"{k}: {', '.join(v)}" for k, v in explained.top_regions.items())
            out.print(f"{photo}: {explained.overlay_png} (top regions - {regions})")
    except FaceHealthError as exc:
        fail(exc)


@explain_app.command("facial-map")
def facial_map_cmd(
    prepared: Annotated[Path, typer.Option(help="The `faces prepare` folder of the cohort's videos.")],
    cohort: Annotated[Path, typer.Option(help="The cohort folder (its labels name each subject's group).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the tables and PNGs.")],
    model: Annotated[
        Path | None,
        typer.Option(help="Affective video checkpoint: adds the model-gradient ranking (default: motion only)."),
    ] = None,
    groups: Annotated[
        tuple[str, str], typer.Option(help="The two label groups compared, A then B (effect > 0: A larger).")
    ] = ("BPD", "MDD"),
    label: Annotated[str, typer.Option(help="The label column holding the groups.")] = "affective",
    frames_per_video: Annotated[int, typer.Option(help="With a pixel model: frames whose gradients are averaged.")] = 8,
    max_faces: MaxFaces = 200,
    top: Annotated[int, typer.Option(help="How many top-ranked landmarks to print.")] = 10,
    seed: Seed = 0,
) -> None:
    """Emoface's digital facial map: which of the 68 landmarks differ between two groups of videos."""
    from facehealth.data.cohort import load_cohort

    if groups[0] == groups[1]:
        fail(InputError(f"--groups needs two different groups, got {groups[0]} twice"))
    _require_prepared(prepared)
    if not cohort.is_dir():
        fail(InputError(f"{cohort}: no such cohort folder"))
    if model is not None and not model.is_file():
        fail(InputError(f"{model}: no such checkpoint"))
    try:
        from facehealth.explain.facial_map import affective_facial_map

        labels = load_cohort(cohort, check_files=False).subject_labels()
        with err.status("ranking landmarks"):
            result = affective_facial_map(
                prepared,
                labels,
                out_dir,
                groups=groups,
                label_column=label,
                checkpoint=model,
                frames_per_video=frames_per_video,
                max_faces=max_faces,
                seed=seed,
            )
    except FaceHealthError as exc:
        fail(exc)
    counts = ", ".join(f"{g} {n}" for g, n in result.n_videos.items())
    out.print(f"{groups[0]} vs {groups[1]}: {counts} videos ({result.n_excluded} other videos not compared)")
    for key, path in result.files.items():
        out.print(f"{key}: {path}")
    for name, table in (("landmark motion", result.motion), ("model gradient", result.gradient)):
        if table is not None:
            ranked = table.sort_values("rank")
            out.print(f"top {top} landmarks, {name} (rank, landmark, name, q, effect):")
            for _, row in ranked.head(top).iterrows():
                out.print(
                    f"  {int(row['rank'])}. {int(row['landmark'])} {row['name']}  q={row['q']:.3g}  "
                    f"effect={row['effect']:+.2f}"
                )
            first = ranked.iloc[0]
            tied = int(((ranked["p"] == first["p"]) & (ranked["effect"].abs() == abs(first["effect"]))).sum())
            if tied > 1:  # ranks within a tie follow the landmark index, not the data
                out.print(f"  ({tied} landmarks tie for rank 1 on p and |effect|; their order is by index)")


@explain_app.command("heatmap")
def heatmap_cmd(
    scores: Annotated[Path, typer.Option(help=_SCORES_HELP)],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the PNG.")],
    photo: Annotated[
        Path | None, typer.Option("--input", help="A photo: the heatmap sits on its face's landmarks.")
    ] = None,
    prepared: Annotated[
        Path | None, typer.Option(help="A `faces prepare` folder: the heatmap sits on its standardized face.")
    ] = None,
    landmark_column: LandmarkColumn = "landmark",
    score_column: ScoreColumn = "score",
    power: Annotated[
        float, typer.Option(help="Scores are raised to this power (4: the top landmarks stand out).")
    ] = 4.0,
    sigma: Annotated[float, typer.Option(help="Gaussian sd in inter-ocular distances.")] = 0.15,
    max_faces: MaxFaces = 200,
    seed: Seed = 0,
) -> None:
    """Gaussian attention heatmap of per-landmark scores, on a photo or on a cohort's standardized face."""
    from facehealth.explain.heatmap import heatmap_on_photo, heatmap_on_standard_face
    from facehealth.explain.landmark_scores import read_landmark_scores

    if (photo is None) == (prepared is None):
        fail(InputError("give either --input PHOTO or --prepared FOLDER (the standardized face), not both"))
    if photo is not None and not photo.is_file():
        fail(InputError(f"{photo}: no such photo"))
    try:
        weights = read_landmark_scores(scores, landmark_column, score_column)
        if photo is not None:
            path = heatmap_on_photo(photo, weights, out_dir / f"{photo.stem}_heatmap.png", power, sigma)
        else:
            _require_prepared(prepared)
            path = heatmap_on_standard_face(
                prepared, weights, out_dir / "standard_face_heatmap.png", power, sigma, max_faces=max_faces, seed=seed
            )
    except FaceHealthError as exc:
        fail(exc)
    out.print(f"heatmap: {path}")


@explain_app.command("standard-face")
def standard_face_cmd(
    prepared: Annotated[Path, typer.Option(help="The `faces prepare` folder whose faces are averaged.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the PNGs and standard_face.csv.")],
    scores: Scores = None,
    landmark_column: LandmarkColumn = "landmark",
    score_column: ScoreColumn = "score",
    mesh_3d: Annotated[bool, typer.Option("--3d/--no-3d", help="Also the 468-point 3D face (when installed).")] = True,
    max_faces: MaxFaces = 200,
    seed: Seed = 0,
) -> None:
    """The standardized (Procrustes mean) face of a prepared cohort, in 2D and 3D, optionally painted."""
    from facehealth.explain.landmark_scores import read_landmark_scores
    from facehealth.explain.standard_face_3d import face_mesh_unavailable, write_standard_faces

    _require_prepared(prepared)
    try:
        weights = None if scores is None else read_landmark_scores(scores, landmark_column, score_column)
        if weights is not None and weights.max() > 1:
            weights = weights / weights.max()  # the faces' colour scale is 0..1
            err.print(f"[yellow]note:[/] '{score_column}' exceeds 1; painted as a share of its maximum")
        reason = face_mesh_unavailable() if mesh_3d else "--no-3d"
        with err.status("averaging the faces"):
            files = write_standard_faces(prepared, out_dir, weights, max_faces, seed, mesh_3d=reason is None)
    except FaceHealthError as exc:
        fail(exc)
    for key, path in files.items():
        out.print(f"{key}: {path}")
    if reason is not None:
        out.print(f"3D face skipped: {reason}")


def _require_prepared(folder: Path) -> None:
    if not (folder / "manifest.parquet").is_file():
        fail(InputError(f"{folder}: not a `faces prepare` folder (no manifest.parquet)"))
