"""``cohort synth``: write a synthetic cohort folder (tables, media, ground truth, contact sheet).

The generative model and its planted coefficients are in :mod:`facehealth.data.synth.model`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from facehealth.data.biomarkers import BIOMARKERS
from facehealth.data.cohort import write_table
from facehealth.data.stimuli import StimulusMarker, write_sidecar
from facehealth.data.synth.faces import (
    CANVAS,
    ExpressionWarper,
    Nuisance,
    apply_expression,
    encode_jpeg,
    identity_photos,
    load_base_faces,
    photograph,
    render_face,
)
from facehealth.data.synth.model import (
    AFFECTIVE_RESPONSE,
    CAD,
    CAMERAS,
    CLINICAL,
    EXTERNAL_SITES,
    MARKER_EFFECTS,
    SITE_SHARES,
    STIMULUS_SCHEDULE,
    SURVIVAL,
    VISIBLE_MARKERS,
    SynthConfig,
    SyntheticSubject,
    draw_nuisance,
    draw_subjects,
    expression_track,
)
from facehealth.faces.io import write_image

__all__ = ["SynthConfig", "synthesize_cohort"]


def synthesize_cohort(
    out: str | Path, config: SynthConfig | None = None, on_progress: Callable[[int, int], None] | None = None
) -> Path:
    """Write a synthetic cohort folder (tables, media, ground truth, contact sheet); returns its path.

    ``on_progress(done, total)`` is called after each subject.
    """
    from facehealth.faces.io import write_video

    cfg = config or SynthConfig()
    out = Path(out)
    (out / "media").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    photos = identity_photos(Path(cfg.base_photos) if cfg.base_photos else None)
    bases, skipped = load_base_faces(photos, min(cfg.subjects, len(photos)), rng)
    subjects = draw_subjects(cfg, rng, bases)
    groups = list(AFFECTIVE_RESPONSE)
    media_rows, sheet = [], []
    total = cfg.subjects
    for i, subject in enumerate(subjects):
        sid = subject.row["subject_id"]
        camera = CAMERAS[subject.row["site"]]
        sub_rng = np.random.default_rng([cfg.seed, i])
        start = date(2024, 1, 1) + timedelta(days=int(sub_rng.integers(0, 365)))
        face, landmarks = render_face(bases, subject.appearance)
        for k in range(cfg.images_per_subject):
            nuisance = draw_nuisance(sub_rng, cfg.nuisance)
            photo = photograph(apply_expression(face, landmarks, nuisance.expression), nuisance, camera, sub_rng)
            rel = Path("media") / sid / f"img{k}.jpg"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(encode_jpeg(photo, camera.jpeg_quality))
            media_rows.append(
                {
                    "media_id": f"{sid}_img{k}",
                    "subject_id": sid,
                    "path": rel.as_posix(),
                    "kind": "image",
                    "acquired_at": (start + timedelta(days=30 * k)).isoformat(),
                    "visit": 0,
                    "stimulus": None,
                }
            )
            if k == 0 and len(sheet) < 48:
                sheet.append((photo, subject.row))
        if cfg.videos_per_subject:
            group = groups[int(sub_rng.choice(3, p=[0.4, 0.3, 0.3]))]
            subject.row["affective"] = group
            times = np.arange(0, STIMULUS_SCHEDULE[-1][2], 1.0 / cfg.video_fps)
            for v in range(cfg.videos_per_subject):
                track, params = expression_track(sub_rng, group, times)
                subject.response = {"group": group, **params}
                base_nuisance = draw_nuisance(sub_rng, 0.5 * cfg.nuisance)
                warp = ExpressionWarper(face, landmarks)
                frames = (
                    photograph(
                        warp(float(e)),
                        Nuisance(**{**base_nuisance.__dict__, "expression": 0.0, "noise": 1.0}),
                        camera,
                        sub_rng,
                    )
                    for e in track
                )
                rel = Path("media") / sid / f"video{v}.mp4"
                write_video(out / rel, frames, fps=cfg.video_fps)
                # The schedule the face responded to, as `facehealth record` writes it for a real one.
                schedule = [StimulusMarker(start, end - start, label) for label, start, end in STIMULUS_SCHEDULE]
                write_sidecar(out / rel, schedule, fps=cfg.video_fps, frames=len(times))
                media_rows.append(
                    {
                        "media_id": f"{sid}_vid{v}",
                        "subject_id": sid,
                        "path": rel.as_posix(),
                        "kind": "video",
                        "acquired_at": start.isoformat(),
                        "visit": 0,
                        "stimulus": "emotion_sequence_v1",
                    }
                )
        if on_progress:
            on_progress(i + 1, total)
    _write_tables(out, subjects, media_rows, cfg)
    _write_ground_truth(out, cfg, {"used": [b.name for b in bases], "skipped_no_single_face": skipped}, subjects)
    _contact_sheet(out / "contact_sheet.png", sheet)
    return out


def _write_tables(out: Path, subjects: list[SyntheticSubject], media_rows: list[dict], cfg: SynthConfig) -> None:
    subject_cols = ["subject_id", "age", "sex", "site", "group_id", "bmi", "smoker"]
    if cfg.clinical_covariates:
        subject_cols += ["stage", "disease_type"]
    label_cols = (
        ["subject_id", "cad", "survival_time", "survival_event"]
        + (["affective"] if cfg.videos_per_subject else [])
        + list(BIOMARKERS)
    )
    write_table(pd.DataFrame([{c: s.row[c] for c in subject_cols} for s in subjects]), out, "subjects")
    write_table(pd.DataFrame([{c: s.row.get(c) for c in label_cols} for s in subjects]), out, "labels")
    write_table(pd.DataFrame(media_rows), out, "media")
    write_table(
        pd.DataFrame({"column": list(BIOMARKERS), "unit": [b.unit for b in BIOMARKERS.values()]}), out, "label_units"
    )
    latent = pd.DataFrame([s.latent | ({"affective": s.response["group"]} if s.response else {}) for s in subjects])
    latent.to_csv(out / "ground_truth_subjects.csv", index=False)


def _write_ground_truth(out: Path, cfg: SynthConfig, bases: dict, subjects: list[SyntheticSubject]) -> None:
    roles = {}
    for name in BIOMARKERS:
        if name in VISIBLE_MARKERS:
            roles[name] = {"role": "visible", "sign": VISIBLE_MARKERS[name], "effects": MARKER_EFFECTS[name]}
        elif name in MARKER_EFFECTS:
            roles[name] = {"role": "indirect", "effects": MARKER_EFFECTS[name]}
        else:
            roles[name] = {"role": "none", "effects": {"noise": 1.0}}
    truth = {
        "generator": "facehealth.data.synth",
        "config": cfg.__dict__,
        "identities": bases,
        "biomarkers": roles,
        "negative_controls": [n for n, r in roles.items() if r["role"] == "none"],
        "cad": CAD,
        "survival": SURVIVAL
        | {
            "hazard_ratios": {
                "age_per_decade": float(np.exp(SURVIVAL["log_hr_age_per_decade"])),
                "frailty_per_sd": float(np.exp(SURVIVAL["log_hr_frailty_per_sd"])),
                "male_vs_female": float(np.exp(SURVIVAL["log_hr_male"])),
            }
        },
        "clinical_covariates": (
            CLINICAL
            | {
                "hazard_ratios": {f"stage_{k}_vs_I": float(np.exp(v)) for k, v in CLINICAL["log_hr_stage"].items()}
                | {f"disease_type_{k}": float(np.exp(v)) for k, v in CLINICAL["log_hr_disease_type"].items()}
            }
            if cfg.clinical_covariates
            else None
        ),
        "face_age_gap": {
            "sd_years": cfg.face_age_gap_sd,
            "log_hr_per_5_years": cfg.face_age_gap_log_hr,
            "hr_per_5_years": float(np.exp(cfg.face_age_gap_log_hr)),
            "note": "faces are rendered at age + gap; the gap is in ground_truth_subjects.csv (face_age_gap)",
        },
        "affective": {
            "stimulus_schedule": STIMULUS_SCHEDULE,
            "response": AFFECTIVE_RESPONSE,
            "expression": "+1 smile (mouth corners up/out), -1 sad (corners down, inner brows up)",
        },
        "sites": {
            k: {**v.__dict__, "share": SITE_SHARES[k], "external": k in EXTERNAL_SITES} for k, v in CAMERAS.items()
        },
        "visible_sign_strengths": {
            "age": "hair greying ~ ((age-18)/72)^1.5, skin texture and wrinkles ~ (age-18)/72, jowl sag 0.08 IOD at 90",
            "bmi": "lower-face half-width +0.4 IOD per 10 kg/m2",
            "pallor": "0.7 x -z(haemoglobin), clipped to [-0.8, 1.2]",
            "jaundice": "0.35 x (z(total_bilirubin) + 0.5), clipped to [0, 1.2]",
            "xanthelasma": "0.8 x (z(ldl) + 0.3), clipped to [0, 1]",
            "puffiness": "0.6 x (z(creatinine) + 0.5), clipped to [0, 1.2]",
            "dark_circles": "0.45 x (visible_frailty + 0.5), clipped to [0, 1]; "
            "visible_frailty = 0.7 frailty + N(0, 0.3)",
            "earlobe_crease_arcus": "present with the probabilities in cad.*_logit",
        },
        "n_subjects": len(subjects),
        "canvas_px": CANVAS,
    }
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2, default=str))


def _contact_sheet(path: Path, items: list[tuple[np.ndarray, dict]], cols: int = 8, tile: int = 160) -> None:
    if not items:
        return
    rows = (len(items) + cols - 1) // cols
    sheet = np.full((rows * (tile + 22), cols * tile, 3), 255, np.uint8)
    for i, (photo, row) in enumerate(items):
        r, c = divmod(i, cols)
        y, x = r * (tile + 22), c * tile
        sheet[y : y + tile, x : x + tile] = cv2.resize(photo, (tile, tile), interpolation=cv2.INTER_AREA)
        text = (
            f"{row['age']:.0f}{row['sex']} BMI{row['bmi']:.0f} {row['site'][-1].upper()}{' CAD' if row['cad'] else ''}"
        )
        cv2.putText(sheet, text, (x + 3, y + tile + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (20, 20, 20), 1, cv2.LINE_AA)
    write_image(path, sheet)
