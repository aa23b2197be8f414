"""``cohort synth``: a synthetic cohort with planted, documented effects.

The generative model (all coefficients are written to ``ground_truth.json``):

- Demographics: age ~ U(18, 90); sex F/M 50/50; site A/B/C (C is the
  "external" site with its own camera); BMI ~ N(26 + 0.03 (age - 50), 4).
- Biomarkers (62, registry units): each is ``mid + sd * z`` (on the log scale for
  skewed markers) where ``z`` is a sum of planted effects plus noise; roles are
  *visible* (a painted facial sign scales with ``z``), *indirect* (depends on
  age, sex or BMI, which are visible themselves) or *none* (pure noise: the
  negative controls, on which a model must find no signal).
- Coronary artery disease: logistic in age, sex, LDL and BMI; earlobe crease
  and corneal arcus are more frequent with CAD (and age).
- Survival: exponential times with log-hazard ``b_age (age - 60)/10 + b_frailty
  z_frailty + b_male male``; a frailty ``z`` is half visible (dark circles,
  dull skin); uniform administrative censoring.
- Affective videos (optional): responses to a neutral/happy/neutral/sad
  stimulus sequence differ in amplitude, latency and variability between
  healthy, MDD and BPD.
- Nuisance per photo: pose, exposure, colour temperature, side light,
  expression, occasional blur and noise; site cameras differ in colour,
  contrast, resolution and JPEG quality.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from facehealth.data.biomarkers import BIOMARKERS, Biomarker
from facehealth.data.cohort import write_table
from facehealth.data.synth.faces import (
    CANVAS,
    Appearance,
    BaseFace,
    Camera,
    ExpressionWarper,
    Nuisance,
    apply_expression,
    encode_jpeg,
    load_base_faces,
    photograph,
    render_face,
)

__all__ = ["SynthConfig", "MARKER_EFFECTS", "CAMERAS", "AFFECTIVE_RESPONSE", "synthesize_cohort", "STIMULUS_SCHEDULE"]

# Planted effects on marker z-scores: coefficients on standardised drivers, and the noise sd.
# Drivers: age_z = (age - 54) / 21, male = 1/0 - 0.5, bmi_z = (bmi - 26) / 4, plus latent "own" z
# of another marker. A marker not listed here is a negative control: z ~ N(0, 1).
MARKER_EFFECTS: dict[str, dict[str, float]] = {
    # visible: a facial sign is painted with strength proportional to this marker's z
    "haemoglobin": {"male": 1.2, "noise": 0.8},
    "total_bilirubin": {"noise": 1.0},
    "ldl_cholesterol": {"age_z": 0.25, "noise": 0.95},
    "creatinine": {"male": 0.6, "age_z": 0.3, "noise": 0.85},
    # indirect: through age, sex, BMI or a visible marker
    "haematocrit": {"haemoglobin": 0.9, "noise": 0.4},
    "red_blood_cells": {"haemoglobin": 0.7, "noise": 0.7},
    "direct_bilirubin": {"total_bilirubin": 0.8, "noise": 0.6},
    "total_cholesterol": {"ldl_cholesterol": 0.85, "noise": 0.5},
    "apolipoprotein_b": {"ldl_cholesterol": 0.8, "noise": 0.6},
    "egfr": {"age_z": -0.7, "creatinine": -0.5, "noise": 0.5},
    "cystatin_c": {"age_z": 0.5, "creatinine": 0.4, "noise": 0.7},
    "urea": {"age_z": 0.4, "creatinine": 0.4, "noise": 0.8},
    "glucose": {"bmi_z": 0.5, "age_z": 0.3, "noise": 0.8},
    "hba1c": {"bmi_z": 0.5, "age_z": 0.35, "noise": 0.8},
    "insulin": {"bmi_z": 0.6, "noise": 0.8},
    "triglycerides": {"bmi_z": 0.5, "noise": 0.85},
    "uric_acid": {"bmi_z": 0.4, "male": 0.8, "noise": 0.8},
    "crp": {"bmi_z": 0.35, "frailty": 0.4, "noise": 0.8},
    "nt_probnp": {"age_z": 0.7, "frailty": 0.3, "noise": 0.6},
}
VISIBLE_MARKERS = {
    "haemoglobin": "pallor (low)",
    "total_bilirubin": "yellow skin and sclera (high)",
    "ldl_cholesterol": "xanthelasma plaques (high)",
    "creatinine": "periorbital puffiness (high)",
}

CAMERAS = {
    "site_a": Camera("site_a", 288, 92, (1.0, 1.0, 1.0), 1.0),
    "site_b": Camera("site_b", 256, 80, (1.07, 1.0, 0.9), 1.05),
    "site_c": Camera("site_c", 224, 68, (0.92, 1.0, 1.1), 0.85),
}
SITE_SHARES = {"site_a": 0.4, "site_b": 0.35, "site_c": 0.25}
EXTERNAL_SITES = ("site_c",)

# Stimulus sequence of the affective videos: (label, start s, end s).
STIMULUS_SCHEDULE = (("neutral", 0.0, 2.0), ("happy", 2.0, 5.0), ("neutral", 5.0, 7.0), ("sad", 7.0, 10.0))
# Group means of the expression response: amplitude to happy/sad clips, latency (s), time constant (s),
# moment-to-moment variability (sd of an AR(1) process, in expression units).
AFFECTIVE_RESPONSE = {
    "healthy": {"happy_amplitude": 0.8, "sad_amplitude": 0.5, "latency": 0.4, "tau": 0.5, "variability": 0.06},
    "MDD": {"happy_amplitude": 0.25, "sad_amplitude": 0.8, "latency": 1.0, "tau": 0.9, "variability": 0.06},
    "BPD": {"happy_amplitude": 1.0, "sad_amplitude": 0.9, "latency": 0.3, "tau": 0.3, "variability": 0.3},
}

SURVIVAL = {
    "baseline_hazard_per_year": 0.02,
    "log_hr_age_per_decade": float(np.log(1.6)),
    "log_hr_frailty_per_sd": float(np.log(1.8)),
    "log_hr_male": float(np.log(1.3)),
    "censoring_uniform_years": (2.0, 15.0),
    "frailty_visible_weight": 0.7,
}
CAD = {
    "intercept": -1.2,
    "age_z": 0.9,
    "male": 0.6,
    "ldl_z": 0.5,
    "bmi_z": 0.3,
    "noise_sd": 0.5,
    "earlobe_crease_logit": {"intercept": -1.8, "cad": 2.0, "age_z": 0.5},
    "arcus_logit": {"intercept": -2.2, "cad": 1.2, "age_z": 1.2},
}


@dataclass(frozen=True)
class SynthConfig:
    subjects: int = 200
    images_per_subject: int = 4
    videos_per_subject: int = 0  # affective stimulus videos (10 s at 5 fps)
    seed: int = 0
    video_fps: float = 5.0
    base_photos: str | None = None  # extra folder of single-face photos used as identity bases
    nuisance: float = 1.0  # scales pose/light/blur variation; 0 = studio photos


@dataclass
class _Subject:
    row: dict
    appearance: Appearance
    latent: dict = field(default_factory=dict)
    response: dict | None = None


def _sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-x))


def _marker_value(marker: Biomarker, z: float) -> float:
    """Map a z-score to a value: reference interval = mid +- 2 sd (on the log scale for skewed markers)."""
    if marker.log_normal:
        lo, hi = np.log(max(marker.ref_low, 1e-3 * marker.ref_high)), np.log(marker.ref_high)
        value = float(np.exp((lo + hi) / 2 + z * (hi - lo) / 4))
    else:
        value = marker.mid + z * (marker.ref_high - marker.ref_low) / 4
    return float(np.clip(value, marker.min_possible, marker.max_possible))


def _draw_subjects(cfg: SynthConfig, rng: np.random.Generator, n_bases: int) -> list[_Subject]:
    subjects = []
    sites = list(SITE_SHARES)
    for i in range(cfg.subjects):
        sid = f"S{i:05d}"
        age = float(rng.uniform(18, 90))
        male = bool(rng.random() < 0.5)
        site = str(rng.choice(sites, p=list(SITE_SHARES.values())))
        bmi = float(np.clip(rng.normal(26 + 0.03 * (age - 50), 4), 16, 45))
        drivers = {
            "age_z": (age - 54) / 21,
            "male": (1.0 if male else 0.0) - 0.5,
            "bmi_z": (bmi - 26) / 4,
            "frailty": float(rng.normal()),
        }
        z: dict[str, float] = {}
        # Markers that drive others (the visible ones) first, then their dependants.
        order = list(VISIBLE_MARKERS) + [n for n in BIOMARKERS if n not in VISIBLE_MARKERS]
        for name in order:
            effects = MARKER_EFFECTS.get(name, {"noise": 1.0})
            value = effects.get("noise", 1.0) * rng.normal()
            for driver, coef in effects.items():
                if driver != "noise":
                    value += coef * (drivers[driver] if driver in drivers else z[driver])
            z[name] = float(value)
        row = {
            "subject_id": sid,
            "age": round(age, 1),
            "sex": "M" if male else "F",
            "site": site,
            "bmi": round(bmi, 1),
            "smoker": int(rng.random() < 0.2),
        }
        labels = {name: round(_marker_value(BIOMARKERS[name], z[name]), 4) for name in BIOMARKERS}
        cad_logit = (
            CAD["intercept"]
            + CAD["age_z"] * drivers["age_z"]
            + CAD["male"] * drivers["male"] * 2
            + CAD["ldl_z"] * z["ldl_cholesterol"]
            + CAD["bmi_z"] * drivers["bmi_z"]
            + rng.normal(0, CAD["noise_sd"])
        )
        cad = int(rng.random() < _sigmoid(cad_logit))
        crease = rng.random() < _sigmoid(-1.8 + 2.0 * cad + 0.5 * drivers["age_z"])
        arcus = rng.random() < _sigmoid(-2.2 + 1.2 * cad + 1.2 * drivers["age_z"])
        lp = (
            SURVIVAL["log_hr_age_per_decade"] * (age - 60) / 10
            + SURVIVAL["log_hr_frailty_per_sd"] * drivers["frailty"]
            + SURVIVAL["log_hr_male"] * male
        )
        t_event = -np.log(rng.random()) / (SURVIVAL["baseline_hazard_per_year"] * np.exp(lp))
        t_censor = rng.uniform(*SURVIVAL["censoring_uniform_years"])
        visible_frailty = SURVIVAL["frailty_visible_weight"] * drivers["frailty"] + 0.3 * rng.normal()
        app = Appearance(
            base=int(rng.integers(n_bases)),
            base_mix=float(np.clip(rng.beta(0.6, 1.2), 0, 0.9)),
            shape=tuple(float(v) for v in rng.normal(0, 1, 5)),
            skin_tone=float(rng.uniform(-1, 1)),
            hair_tint=float(rng.uniform(-1, 1)),
            male=male,
            age=age,
            bmi=bmi,
            pallor=float(np.clip(-0.45 * z["haemoglobin"], -0.6, 1.0)),
            jaundice=float(np.clip(0.35 * (z["total_bilirubin"] + 0.5), 0, 1.2)),
            xanthelasma=float(np.clip(0.6 * (z["ldl_cholesterol"] + 0.3), 0, 0.9)),
            puffiness=float(np.clip(0.4 * (z["creatinine"] + 0.3), 0, 1.0)),
            earlobe_crease=0.8 if crease else 0.0,
            arcus=0.8 if arcus else 0.0,
            dark_circles=float(np.clip(0.3 * (visible_frailty + 0.5), 0, 0.8)),
        )
        subjects.append(
            _Subject(
                row=row
                | {
                    "cad": cad,
                    "survival_time": round(float(min(t_event, t_censor)), 3),
                    "survival_event": int(t_event <= t_censor),
                }
                | labels,
                appearance=app,
                latent={
                    "subject_id": sid,
                    "frailty": drivers["frailty"],
                    "visible_frailty": visible_frailty,
                    "earlobe_crease": int(crease),
                    "arcus": int(arcus),
                    "base": app.base,
                    "base_mix": app.base_mix,
                    **{f"z_{k}": z[k] for k in VISIBLE_MARKERS},
                },
            )
        )
    return subjects


def _nuisance(rng: np.random.Generator, strength: float) -> Nuisance:
    s = strength
    return Nuisance(
        rotation=float(rng.normal(0, 4 * s)),
        scale=float(1 + rng.normal(0, 0.04 * s)),
        shift=(float(rng.normal(0, 0.02 * s)), float(rng.normal(0, 0.02 * s))),
        gain=float(np.exp(rng.normal(0, 0.12 * s))),
        warmth=float(rng.normal(0, 0.5 * s)),
        side_light=float(rng.normal(0, 0.35 * s)),
        blur=float(rng.uniform(0.8, 1.6)) if rng.random() < 0.1 * s else 0.0,
        noise=float(rng.uniform(0, 4 * s)),
        expression=float(np.clip(rng.normal(0.1, 0.35 * s), -1, 1)),
    )


def _expression_track(rng: np.random.Generator, group: str, times: np.ndarray) -> tuple[np.ndarray, dict]:
    """Expression (-1 sad .. +1 smile) over time for one subject of ``group`` under the stimulus schedule."""
    mean = AFFECTIVE_RESPONSE[group]
    p = {k: float(v * np.exp(rng.normal(0, 0.15))) for k, v in mean.items()}
    target = np.zeros_like(times)
    for label, start, end in STIMULUS_SCHEDULE:
        if label == "neutral":
            continue
        sign = 1.0 if label == "happy" else -1.0
        amp = p["happy_amplitude"] if label == "happy" else p["sad_amplitude"]
        on = times - start - p["latency"]
        rise = np.where(on > 0, 1 - np.exp(-np.maximum(on, 0) / p["tau"]), 0.0)
        off = times - end
        rise = np.where(off > 0, rise * np.exp(-off / p["tau"]), rise)
        target += sign * amp * rise
    noise = np.zeros_like(times)
    for t in range(1, len(times)):
        noise[t] = 0.7 * noise[t - 1] + p["variability"] * rng.normal()
    return np.clip(target + noise, -1.2, 1.2), p


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
    bases: list[BaseFace] = load_base_faces(Path(cfg.base_photos) if cfg.base_photos else None)
    rng = np.random.default_rng(cfg.seed)
    subjects = _draw_subjects(cfg, rng, len(bases))
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
            nuisance = _nuisance(sub_rng, cfg.nuisance)
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
                track, params = _expression_track(sub_rng, group, times)
                subject.response = {"group": group, **params}
                base_nuisance = _nuisance(sub_rng, 0.5 * cfg.nuisance)
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
    _write_ground_truth(out, cfg, [b.name for b in bases], subjects)
    _contact_sheet(out / "contact_sheet.png", sheet)
    return out


def _write_tables(out: Path, subjects: list[_Subject], media_rows: list[dict], cfg: SynthConfig) -> None:
    subject_cols = ["subject_id", "age", "sex", "site", "bmi", "smoker"]
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


def _write_ground_truth(out: Path, cfg: SynthConfig, bases: list[str], subjects: list[_Subject]) -> None:
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
        "base_faces": bases,
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
            "bmi": "lower-face half-width +0.25 IOD per 10 kg/m2",
            "pallor": "0.45 x -z(haemoglobin), clipped to [-0.6, 1]",
            "jaundice": "0.35 x (z(total_bilirubin) + 0.5), clipped to [0, 1.2]",
            "xanthelasma": "0.6 x (z(ldl) + 0.3), clipped to [0, 0.9]",
            "puffiness": "0.4 x (z(creatinine) + 0.3), clipped to [0, 1]",
            "dark_circles": "0.3 x (visible_frailty + 0.5); visible_frailty = 0.7 frailty + N(0, 0.3)",
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
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
