"""The biomarker registry: 62 blood markers in the 8 physiological systems FaceFound reports.

Each marker has a unit, an adult reference interval (for "suspicious" warnings
and for the synthetic cohort's distributions) and hard physiological limits
(values outside them are impossible and rejected by ``cohort validate``).
Reference intervals are typical adult laboratory values (e.g. Tietz Clinical
Guide to Laboratory Tests); they vary by laboratory and are not for clinical use.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from facehealth.errors import SchemaError

__all__ = [
    "Biomarker",
    "SYSTEMS",
    "BIOMARKERS",
    "get_biomarker",
    "biomarkers_by_system",
    "is_log_scale",
    "LOG_FLOOR",
    "markdown_table",
]

SYSTEMS = (
    "haematological",
    "hepatic",
    "renal",
    "metabolic",
    "lipid",
    "cardiovascular",
    "inflammatory",
    "electrolyte_endocrine",
)


@dataclass(frozen=True)
class Biomarker:
    name: str  # column name in the labels table
    system: str
    unit: str
    ref_low: float  # adult reference interval
    ref_high: float
    min_possible: float  # physiological hard limits: outside = a data error
    max_possible: float
    log_normal: bool = False  # right-skewed markers (enzymes, CRP, ...) are modelled on the log scale
    description: str = ""

    @property
    def mid(self) -> float:
        return (self.ref_low + self.ref_high) / 2.0


def _m(
    name: str,
    system: str,
    unit: str,
    low: float,
    high: float,
    lo_lim: float,
    hi_lim: float,
    log: bool = False,
    desc: str = "",
) -> Biomarker:
    return Biomarker(name, system, unit, low, high, lo_lim, hi_lim, log, desc)


_H, _L, _R, _M, _LP, _C, _I, _E = SYSTEMS
_ALL = [
    # haematological (15)
    _m("haemoglobin", _H, "g/dL", 12.0, 17.5, 2.0, 25.0, desc="oxygen-carrying protein; low = anaemia (pallor)"),
    _m("haematocrit", _H, "%", 36.0, 52.0, 5.0, 75.0),
    _m("red_blood_cells", _H, "10^12/L", 4.0, 5.9, 0.5, 9.0),
    _m("mcv", _H, "fL", 80.0, 100.0, 50.0, 150.0, desc="mean corpuscular volume"),
    _m("mch", _H, "pg", 27.0, 33.0, 15.0, 50.0),
    _m("mchc", _H, "g/dL", 32.0, 36.0, 20.0, 45.0),
    _m("rdw", _H, "%", 11.5, 14.5, 8.0, 35.0),
    _m("white_blood_cells", _H, "10^9/L", 4.0, 11.0, 0.1, 200.0, log=True),
    _m("neutrophils", _H, "10^9/L", 1.8, 7.5, 0.0, 150.0, log=True),
    _m("lymphocytes", _H, "10^9/L", 1.0, 4.0, 0.0, 150.0, log=True),
    _m("monocytes", _H, "10^9/L", 0.2, 1.0, 0.0, 30.0, log=True),
    _m("eosinophils", _H, "10^9/L", 0.0, 0.5, 0.0, 20.0, log=True),
    _m("basophils", _H, "10^9/L", 0.0, 0.1, 0.0, 5.0, log=True),
    _m("platelets", _H, "10^9/L", 150.0, 400.0, 1.0, 2000.0),
    _m("mpv", _H, "fL", 7.5, 11.5, 4.0, 20.0, desc="mean platelet volume"),
    # hepatic (9)
    _m("alt", _L, "U/L", 7.0, 56.0, 0.0, 10000.0, log=True),
    _m("ast", _L, "U/L", 10.0, 40.0, 0.0, 10000.0, log=True),
    _m("alp", _L, "U/L", 40.0, 130.0, 0.0, 5000.0, log=True),
    _m("ggt", _L, "U/L", 8.0, 61.0, 0.0, 5000.0, log=True),
    _m("total_bilirubin", _L, "umol/L", 3.0, 21.0, 0.0, 900.0, log=True, desc="high = jaundice (yellow skin, sclera)"),
    _m("direct_bilirubin", _L, "umol/L", 0.0, 5.0, 0.0, 600.0, log=True),
    _m("albumin", _L, "g/L", 35.0, 50.0, 5.0, 70.0),
    _m("total_protein", _L, "g/L", 60.0, 83.0, 20.0, 150.0),
    _m("globulin", _L, "g/L", 20.0, 35.0, 5.0, 100.0),
    # renal (5)
    _m(
        "creatinine",
        _R,
        "umol/L",
        60.0,
        110.0,
        5.0,
        2500.0,
        log=True,
        desc="high = reduced kidney function (puffy eyes)",
    ),
    _m("urea", _R, "mmol/L", 2.5, 7.8, 0.3, 100.0, log=True),
    _m("uric_acid", _R, "umol/L", 150.0, 420.0, 10.0, 1500.0),
    _m("egfr", _R, "mL/min/1.73m2", 60.0, 120.0, 1.0, 200.0),
    _m("cystatin_c", _R, "mg/L", 0.6, 1.0, 0.1, 10.0, log=True),
    # metabolic / glycaemic (5)
    _m("glucose", _M, "mmol/L", 3.9, 5.6, 0.5, 60.0, log=True),
    _m("hba1c", _M, "%", 4.0, 5.6, 2.0, 20.0),
    _m("insulin", _M, "uIU/mL", 2.0, 20.0, 0.0, 500.0, log=True),
    _m("c_peptide", _M, "nmol/L", 0.3, 1.3, 0.0, 10.0, log=True),
    _m("lactate", _M, "mmol/L", 0.5, 2.2, 0.1, 30.0, log=True),
    # lipid (7)
    _m("total_cholesterol", _LP, "mmol/L", 3.0, 5.2, 0.5, 30.0),
    _m("ldl_cholesterol", _LP, "mmol/L", 1.5, 3.4, 0.1, 25.0, desc="high = xanthelasma-like plaques"),
    _m("hdl_cholesterol", _LP, "mmol/L", 1.0, 2.0, 0.1, 6.0),
    _m("triglycerides", _LP, "mmol/L", 0.5, 1.7, 0.1, 100.0, log=True),
    _m("apolipoprotein_a1", _LP, "g/L", 1.0, 1.8, 0.1, 5.0),
    _m("apolipoprotein_b", _LP, "g/L", 0.5, 1.2, 0.05, 5.0),
    _m("lipoprotein_a", _LP, "nmol/L", 5.0, 75.0, 0.0, 1000.0, log=True),
    # cardiovascular (6)
    _m("nt_probnp", _C, "pg/mL", 10.0, 125.0, 0.0, 100000.0, log=True),
    _m("troponin_i", _C, "ng/L", 0.5, 16.0, 0.0, 100000.0, log=True),
    _m("creatine_kinase", _C, "U/L", 30.0, 200.0, 1.0, 100000.0, log=True),
    _m("ck_mb", _C, "U/L", 0.0, 25.0, 0.0, 5000.0, log=True),
    _m("ldh", _C, "U/L", 120.0, 250.0, 10.0, 10000.0, log=True),
    _m("homocysteine", _C, "umol/L", 5.0, 15.0, 0.5, 200.0, log=True),
    # inflammatory / immune (7)
    _m("crp", _I, "mg/L", 0.1, 5.0, 0.0, 600.0, log=True),
    _m("esr", _I, "mm/h", 1.0, 20.0, 0.0, 150.0, log=True),
    _m("ferritin", _I, "ug/L", 20.0, 300.0, 0.5, 100000.0, log=True),
    _m("igg", _I, "g/L", 7.0, 16.0, 0.5, 60.0),
    _m("iga", _I, "g/L", 0.7, 4.0, 0.0, 30.0),
    _m("igm", _I, "g/L", 0.4, 2.3, 0.0, 40.0, log=True),
    _m("complement_c3", _I, "g/L", 0.9, 1.8, 0.05, 5.0),
    # electrolyte / endocrine (8)
    _m("sodium", _E, "mmol/L", 135.0, 145.0, 100.0, 190.0),
    _m("potassium", _E, "mmol/L", 3.5, 5.1, 1.0, 10.0),
    _m("chloride", _E, "mmol/L", 98.0, 107.0, 60.0, 150.0),
    _m("calcium", _E, "mmol/L", 2.15, 2.55, 0.5, 5.0),
    _m("magnesium", _E, "mmol/L", 0.7, 1.0, 0.1, 4.0),
    _m("phosphate", _E, "mmol/L", 0.8, 1.5, 0.1, 6.0),
    _m("tsh", _E, "mIU/L", 0.4, 4.0, 0.0, 500.0, log=True),
    _m("free_t4", _E, "pmol/L", 12.0, 22.0, 0.5, 150.0),
]

BIOMARKERS: dict[str, Biomarker] = {b.name: b for b in _ALL}
assert len(BIOMARKERS) == 62 and {b.system for b in _ALL} == set(SYSTEMS)


def get_biomarker(name: str) -> Biomarker:
    """Look up a marker by column name; unknown names raise with close matches."""
    try:
        return BIOMARKERS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(BIOMARKERS), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise SchemaError(f"unknown biomarker '{name}'.{hint}") from None


def biomarkers_by_system() -> dict[str, list[Biomarker]]:
    return {s: [b for b in _ALL if b.system == s] for s in SYSTEMS}


LOG_FLOOR = 1e-6  # values at or below 0 (a data error for these markers) are floored before the log


def is_log_scale(column: str) -> bool:
    """Whether a label column is modelled on the log scale (a right-skewed registered marker)."""
    marker = BIOMARKERS.get(column)
    return bool(marker and marker.log_normal)


def _number(x: float) -> str:
    return f"{x:g}"


def markdown_table() -> str:
    """The registry as a Markdown table, one row per marker in system order.

    docs/cohort_format.md holds this text between its ``biomarkers`` markers
    (:mod:`facehealth.docblocks`); ``python benchmarks/biomarker_table.py`` rewrites it and
    tests/data/test_biomarker_table.py checks that the doc and the registry agree.
    """
    lines = [
        "| marker (labels column) | system | unit | reference interval | possible range | scale |",
        "|---|---|---|---|---|---|",
    ]
    for b in _ALL:
        interval = f"{_number(b.ref_low)}–{_number(b.ref_high)}"
        limits = f"{_number(b.min_possible)}–{_number(b.max_possible)}"
        scale = "log" if b.log_normal else "linear"
        lines.append(f"| `{b.name}` | {b.system} | {b.unit} | {interval} | {limits} | {scale} |")
    counts = ", ".join(f"{s} {len(v)}" for s, v in biomarkers_by_system().items())
    lines += ["", f"{len(_ALL)} markers: {counts}."]
    return "\n".join(lines)
