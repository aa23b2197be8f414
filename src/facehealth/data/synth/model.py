"""The generative model of the synthetic cohort: planted, documented effects.

The generative model (all coefficients are written to ``ground_truth.json``):

- Identities: one real public-domain portrait per subject (sex = the portrait's;
  age = its approximate real age + N(0, 15) years, clipped to 18-90). With a
  user's own photos (sex and age unknown): age ~ U(18, 90), sex 50/50.
- Demographics: site A/B/C (C is the "external" site with its own camera), one
  site per identity; BMI ~ N(26 + 0.03 (age - 50), 4).
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
- Clinical covariates (opt-in, ``SynthConfig.clinical_covariates``): disease
  ``stage`` I/II/III adds a planted log-hazard (reference I); ``disease_type``
  has no effect (the null covariate).
- Face-age gap (opt-in, ``SynthConfig.face_age_gap_sd``): the face shows
  ``age + gap`` with gap ~ N(0, sd); the gap adds ``face_age_gap_log_hr`` per
  5 years to the log-hazard (0 = a visible but null gap).
- Affective videos (optional): responses to a neutral/happy/neutral/sad
  stimulus sequence differ in amplitude, latency and variability between
  healthy, MDD and BPD.
- Nuisance per photo: pose, exposure, colour temperature, side light,
  expression, occasional blur and noise; site cameras differ in colour,
  contrast, resolution and JPEG quality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facehealth.data.biomarkers import BIOMARKERS, Biomarker
from facehealth.data.synth.faces import Appearance, BaseFace, Camera, Nuisance

__all__ = [
    "SynthConfig",
    "MARKER_EFFECTS",
    "VISIBLE_MARKERS",
    "CAMERAS",
    "SITE_SHARES",
    "EXTERNAL_SITES",
    "STIMULUS_SCHEDULE",
    "AFFECTIVE_RESPONSE",
    "SURVIVAL",
    "CAD",
    "CLINICAL",
    "SyntheticSubject",
    "draw_subjects",
    "draw_nuisance",
    "expression_track",
]

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
    # 0.08/year: about 46% of subjects have an event within follow-up (0.02 gave 19%), so a test split of
    # ~50 subjects holds ~25 events and a C-index CI can exclude 0.5; the oracle's C (~0.78) does not change
    # with it (both measured on 2,000 drawn subjects, 2026-12-03).
    "baseline_hazard_per_year": 0.08,
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


# Opt-in clinical covariates for the adjusted survival analyses (FAHR's multivariable Cox): one
# planted prognostic covariate and one null one, both categorical so reference-level coding is
# exercised. Drawn from their own generator, so switching them on changes no other draw.
CLINICAL = {
    "stage_levels": ("I", "II", "III"),
    "stage_shares": (0.45, 0.35, 0.20),
    "log_hr_stage": {"I": 0.0, "II": float(np.log(1.6)), "III": float(np.log(2.8))},
    "disease_type_levels": ("colorectal", "lung", "prostate"),
    "disease_type_shares": (0.4, 0.35, 0.25),
    "log_hr_disease_type": {"colorectal": 0.0, "lung": 0.0, "prostate": 0.0},  # the null covariate
}

# Spread of a subject's age around its portrait's real age (years). The portraits' ages are
# narrow (SD ~8, 33-75); a 15-year spread gives an adult range of ~20-90 (SD ~17) in which the
# planted ageing signs dominate and the real face still carries about a fifth of the variance.
AGE_SPREAD_SD = 15.0


@dataclass(frozen=True)
class SynthConfig:
    subjects: int = 200
    images_per_subject: int = 4
    videos_per_subject: int = 0  # affective stimulus videos (10 s at 5 fps)
    seed: int = 0
    video_fps: float = 5.0
    base_photos: str | None = None  # a folder of single-face photos to use as identities instead of the portraits
    nuisance: float = 1.0  # scales pose/light/blur variation; 0 = studio photos
    clinical_covariates: bool = False  # add stage (prognostic) and disease_type (null) to subjects
    face_age_gap_sd: float = 0.0  # years a face looks older (+) or younger than its age; 0 = none
    face_age_gap_log_hr: float = 0.0  # log-hazard per 5 years of face-age gap (0 = visible but null)


@dataclass
class SyntheticSubject:
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


def draw_subjects(
    cfg: SynthConfig, rng: np.random.Generator, identities: Sequence[BaseFace] | None = None
) -> list[SyntheticSubject]:
    """Draw the subjects' demographics, labels and appearance.

    Args:
        identities: the base faces. Each subject is one identity; when there are more subjects
            than identities, an identity is reused by several subjects, who then share a
            ``group_id`` and a site, so a split by group keeps them on one side. ``None`` (labels
            only, nothing rendered): every subject is its own identity of unknown sex and age.
    """
    bases = (
        [BaseFace(f"id{i:05d}", np.zeros(0), np.zeros(0)) for i in range(cfg.subjects)]
        if identities is None
        else list(identities)
    )
    identity_order = rng.permutation(len(bases))
    # The opt-in effects draw from their own stream so the default cohort stays bit-for-bit the same.
    extra = np.random.default_rng([cfg.seed, 19])
    site_of_identity: dict[int, str] = {}
    subjects = []
    sites = list(SITE_SHARES)
    for i in range(cfg.subjects):
        sid = f"S{i:05d}"
        base = int(identity_order[i % len(bases)])
        identity = bases[base]
        # Age starts from the portrait's real (approximate) age, so part of the age signal is real;
        # the planted ageing signs then follow the subject's age on top of it.
        age = (
            float(np.clip(identity.age + rng.normal(0, AGE_SPREAD_SD), 18, 90))
            if identity.age is not None
            else float(rng.uniform(18, 90))
        )
        male = identity.male if identity.male is not None else bool(rng.random() < 0.5)
        if base not in site_of_identity:
            site_of_identity[base] = str(rng.choice(sites, p=list(SITE_SHARES.values())))
        site = site_of_identity[base]
        bmi = float(np.clip(rng.normal(26 + 0.03 * (age - 50), 4), 16, 45))
        drivers = {
            "age_z": (age - 54) / 21,
            "male": (1.0 if male else 0.0) - 0.5,
            "bmi_z": (bmi - 26) / 4,
            "frailty": float(rng.normal()),
        }
        clinical = _draw_clinical(cfg, extra)
        clinical_log_hr = clinical.pop("log_hr", 0.0)
        gap = float(extra.normal(0, cfg.face_age_gap_sd)) if cfg.face_age_gap_sd > 0 else 0.0
        face_age = float(np.clip(age + gap, 18, 95))
        z: dict[str, float] = {}
        findable: dict[str, float] = {}  # the part of each z that a face shows: the oracle's z
        # Markers that drive others (the visible ones) first, then their dependants.
        order = list(VISIBLE_MARKERS) + [n for n in BIOMARKERS if n not in VISIBLE_MARKERS]
        for name in order:
            effects = MARKER_EFFECTS.get(name, {"noise": 1.0})
            own = effects.get("noise", 1.0) * rng.normal()
            driven = sum(coef * (drivers[d] if d in drivers else z[d]) for d, coef in effects.items() if d != "noise")
            z[name] = float(own + driven)
            # A visible marker paints its whole z on the face; any other shows only what drives it
            # (a negative control: nothing, so its oracle is the population centre).
            findable[name] = z[name] if name in VISIBLE_MARKERS else float(driven)
        row = {
            "subject_id": sid,
            "age": round(age, 1),
            "sex": "M" if male else "F",
            "site": site,
            "group_id": identity.name,
            "bmi": round(bmi, 1),
            "smoker": int(rng.random() < 0.2),
        } | clinical
        labels = {name: round(_marker_value(BIOMARKERS[name], z[name]), 4) for name in BIOMARKERS}
        cad_planted = (
            CAD["intercept"]
            + CAD["age_z"] * drivers["age_z"]
            + CAD["male"] * drivers["male"] * 2
            + CAD["ldl_z"] * z["ldl_cholesterol"]
            + CAD["bmi_z"] * drivers["bmi_z"]
        )
        cad_logit = cad_planted + rng.normal(0, CAD["noise_sd"])
        cad = int(rng.random() < _sigmoid(cad_logit))
        crease = rng.random() < _sigmoid(-1.8 + 2.0 * cad + 0.5 * drivers["age_z"])
        arcus = rng.random() < _sigmoid(-2.2 + 1.2 * cad + 1.2 * drivers["age_z"])
        lp = (
            SURVIVAL["log_hr_age_per_decade"] * (age - 60) / 10
            + SURVIVAL["log_hr_frailty_per_sd"] * drivers["frailty"]
            + SURVIVAL["log_hr_male"] * male
            + clinical_log_hr
            + cfg.face_age_gap_log_hr * (face_age - age) / 5
        )
        t_event = -np.log(rng.random()) / (SURVIVAL["baseline_hazard_per_year"] * np.exp(lp))
        t_censor = rng.uniform(*SURVIVAL["censoring_uniform_years"])
        visible_frailty = SURVIVAL["frailty_visible_weight"] * drivers["frailty"] + 0.3 * rng.normal()
        app = Appearance(
            base=base,
            shape=tuple(float(v) for v in rng.normal(0, 1, 5)),
            skin_tone=float(rng.uniform(-1, 1)),
            hair_tint=float(rng.uniform(-1, 1)),
            male=male,
            age=face_age,
            bmi=bmi,
            pallor=float(np.clip(-0.7 * z["haemoglobin"], -0.8, 1.2)),
            jaundice=float(np.clip(0.35 * (z["total_bilirubin"] + 0.5), 0, 1.2)),
            xanthelasma=float(np.clip(0.8 * (z["ldl_cholesterol"] + 0.3), 0, 1.0)),
            puffiness=float(np.clip(0.6 * (z["creatinine"] + 0.5), 0, 1.2)),
            earlobe_crease=0.8 if crease else 0.0,
            arcus=0.8 if arcus else 0.0,
            dark_circles=float(np.clip(0.45 * (visible_frailty + 0.5), 0, 1.0)),
        )
        subjects.append(
            SyntheticSubject(
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
                    "identity": identity.name,
                    "face_age": round(face_age, 1),
                    "face_age_gap": round(face_age - age, 2),
                    **{f"z_{k}": z[k] for k in VISIBLE_MARKERS},
                    # The oracle: the planted truth as a prediction, the ceiling any model can reach.
                    # What the face shows is its face age; with no planted gap that is the age itself.
                    "oracle_age": round(face_age, 1),
                    "oracle_cad": float(_sigmoid(cad_planted)),
                    "oracle_survival": float(lp),
                    **{f"oracle_{k}": _marker_value(BIOMARKERS[k], findable[k]) for k in BIOMARKERS},
                },
            )
        )
    return subjects


def _draw_clinical(cfg: SynthConfig, rng: np.random.Generator) -> dict:
    """Stage and disease type of one subject, and the stage's planted log-hazard (under ``log_hr``)."""
    if not cfg.clinical_covariates:
        return {}
    stage = str(rng.choice(CLINICAL["stage_levels"], p=CLINICAL["stage_shares"]))
    disease = str(rng.choice(CLINICAL["disease_type_levels"], p=CLINICAL["disease_type_shares"]))
    log_hr = CLINICAL["log_hr_stage"][stage] + CLINICAL["log_hr_disease_type"][disease]
    return {"stage": stage, "disease_type": disease, "log_hr": log_hr}


def draw_nuisance(rng: np.random.Generator, strength: float) -> Nuisance:
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


def expression_track(rng: np.random.Generator, group: str, times: np.ndarray) -> tuple[np.ndarray, dict]:
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
