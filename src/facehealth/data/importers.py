"""Importers: public face datasets a user downloads themselves -> a cohort folder or an image list.

Nothing is downloaded here. Each importer reads the dataset's own layout,
writes ``subjects.csv`` and ``media.csv`` (media paths are absolute, so the
images stay where they are) plus ``import_report.json`` with every skipped
file and why. Supported layouts:

- UTKFace: ``{age}_{gender}_{race}_{datetime}.jpg`` (gender 0 male, 1 female;
  race 0 White, 1 Black, 2 Asian, 3 Indian, 4 Others). One subject per file.
- IMDB-WIKI: ``wiki.mat`` / ``imdb.mat`` metadata (dob as a MATLAB datenum,
  photo_taken year, full_path, gender 1 male / 0 female, face_score,
  second_face_score, name, celeb_id). Age = photo_taken - birth year; photos
  without a face (face_score = -inf) or with a second face are skipped.
- AgeDB: ``{id}_{name}_{age}_{gender}.jpg`` (gender m/f); the name is the subject.
- Any CSV with a path column and optional subject/age/sex columns.
- Plain folders (FFHQ, CelebA and the like) for unlabeled pretraining: ``images.csv``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.data.cohort import write_table
from facehealth.errors import ConfigError, SchemaError, UnsupportedInputError
from facehealth.faces.io import IMAGE_SUFFIXES

__all__ = [
    "ImportSummary",
    "DATASET_KINDS",
    "import_dataset",
    "import_utkface",
    "import_imdb_wiki",
    "import_agedb",
    "import_csv",
    "import_folder",
]

# The names ``facehealth cohort import KIND`` accepts, in the order its help lists them.
DATASET_KINDS = ("utkface", "imdb-wiki", "agedb", "csv", "folder")

UTK_RACES = {"0": "White", "1": "Black", "2": "Asian", "3": "Indian", "4": "Other"}


@dataclass
class ImportSummary:
    out: Path
    subjects: int = 0
    media: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> first few items

    def skip(self, reason: str, item: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 5:
            self.examples[reason].append(item)

    def as_dict(self) -> dict:
        return {
            "out": str(self.out),
            "subjects": self.subjects,
            "media": self.media,
            "skipped": dict(self.skipped),
            "examples": self.examples,
        }


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UnsupportedInputError(f"{folder}: not a folder")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _finish(summary: ImportSummary, subjects: list[dict], media: list[dict], site: str) -> ImportSummary:
    if not media:
        raise SchemaError(f"nothing imported into {summary.out}; skipped: {dict(summary.skipped)}")
    frame = pd.DataFrame(subjects).drop_duplicates("subject_id")
    frame["site"] = site
    write_table(frame, summary.out, "subjects")
    write_table(pd.DataFrame(media), summary.out, "media")
    summary.subjects, summary.media = len(frame), len(media)
    (summary.out / "import_report.json").write_text(json.dumps(summary.as_dict(), indent=2))
    return summary


def _media_row(path: Path, subject: str, index: int) -> dict:
    return {"media_id": f"m{index:07d}", "subject_id": subject, "path": str(path.resolve()), "kind": "image"}


def import_utkface(folder: str | Path, out: str | Path) -> ImportSummary:
    """UTKFace (aligned or in-the-wild): labels are in the file names."""
    summary = ImportSummary(Path(out))
    subjects, media = [], []
    pattern = re.compile(r"^(\d{1,3})_([01])_([0-4])_(\d+)")
    for path in _images(Path(folder)):
        m = pattern.match(path.name)
        if not m:
            summary.skip("name not age_gender_race_date", path.name)
            continue
        age, gender, race, _ = m.groups()
        if not 0 <= int(age) <= 116:
            summary.skip("age out of range", path.name)
            continue
        sid = path.name.split(".")[0]
        subjects.append(
            {"subject_id": sid, "age": int(age), "sex": "M" if gender == "0" else "F", "race": UTK_RACES[race]}
        )
        media.append(_media_row(path, sid, len(media)))
    return _finish(summary, subjects, media, "utkface")


def _matlab_datenum_year(datenum: float) -> int:
    """Year of a MATLAB serial date (days since year 0; 719529 is 1970-01-01)."""
    return (date(1970, 1, 1) + timedelta(days=float(datenum) - 719529)).year


def import_imdb_wiki(mat_file: str | Path, out: str | Path, image_root: str | Path | None = None) -> ImportSummary:
    """IMDB-WIKI metadata (``wiki.mat`` or ``imdb.mat``); images under ``image_root`` (default: the .mat's folder)."""
    from scipy.io import loadmat

    mat_file = Path(mat_file)
    root = Path(image_root) if image_root else mat_file.parent
    try:
        mat = loadmat(mat_file)
    except Exception as exc:  # noqa: BLE001 - any unreadable .mat is a schema problem for the user
        raise SchemaError(f"{mat_file}: not a readable MATLAB file ({exc})") from exc
    key = next((k for k in ("wiki", "imdb") if k in mat), None)
    if key is None:
        raise SchemaError(
            f"{mat_file}: expected a 'wiki' or 'imdb' struct, found {[k for k in mat if not k.startswith('__')]}"
        )
    meta = mat[key][0, 0]
    needed = {"dob", "photo_taken", "full_path", "gender", "face_score", "second_face_score"}
    missing = needed - set(meta.dtype.names)
    if missing:
        raise SchemaError(f"{mat_file}: struct '{key}' lacks field(s) {sorted(missing)}")

    def column(name: str) -> np.ndarray:
        return np.asarray(meta[name]).ravel()

    dob, taken, paths, gender = column("dob"), column("photo_taken"), column("full_path"), column("gender")
    face, second = column("face_score"), column("second_face_score")
    names = column("name") if "name" in meta.dtype.names else None
    celeb = column("celeb_id") if "celeb_id" in meta.dtype.names else None
    summary = ImportSummary(Path(out))
    subjects, media = [], []
    for i in range(len(paths)):
        rel = str(np.asarray(paths[i]).ravel()[0])
        path = root / rel
        if not np.isfinite(face[i]):
            summary.skip("no face (face_score = -inf)", rel)
            continue
        if np.isfinite(second[i]):
            summary.skip("second face in the photo", rel)
            continue
        try:
            age = int(taken[i]) - _matlab_datenum_year(dob[i])
        except (OverflowError, ValueError):
            summary.skip("invalid date of birth", rel)
            continue
        if not 0 <= age <= 100:
            summary.skip("age out of 0..100", rel)
            continue
        if not path.is_file():
            summary.skip("image file missing", rel)
            continue
        if celeb is not None:
            sid = f"celeb{int(celeb[i])}"
        elif names is not None and np.asarray(names[i]).size:
            sid = re.sub(r"\W+", "_", str(np.asarray(names[i]).ravel()[0])).strip("_") or f"p{i}"
        else:
            sid = f"p{i}"
        sex = "X" if not np.isfinite(gender[i]) else ("M" if gender[i] == 1 else "F")
        subjects.append({"subject_id": sid, "age": age, "sex": sex})
        media.append(_media_row(path, sid, len(media)))
    # A person photographed at several ages: keep the youngest age as the subject's age (first visit).
    if subjects:
        frame = pd.DataFrame(subjects).sort_values("age")
        subjects = frame.drop_duplicates("subject_id").to_dict("records")
    return _finish(summary, subjects, media, key)


def import_agedb(folder: str | Path, out: str | Path) -> ImportSummary:
    """AgeDB: ``{id}_{name}_{age}_{gender}.jpg``; several photos of one name are one subject."""
    summary = ImportSummary(Path(out))
    subjects, media = [], []
    pattern = re.compile(r"^(\d+)_(.+)_(\d{1,3})_([mfMF])$")
    for path in _images(Path(folder)):
        m = pattern.match(path.stem)
        if not m:
            summary.skip("name not id_name_age_gender", path.name)
            continue
        _, name, age, gender = m.groups()
        subjects.append({"subject_id": name, "age": int(age), "sex": gender.upper()})
        media.append(_media_row(path, name, len(media)) | {"age_at_photo": int(age)})
    if subjects:
        subjects = pd.DataFrame(subjects).sort_values("age").drop_duplicates("subject_id").to_dict("records")
    return _finish(summary, subjects, media, "agedb")


def import_csv(
    table: str | Path,
    out: str | Path,
    path_col: str = "path",
    subject_col: str | None = None,
    age_col: str | None = None,
    sex_col: str | None = None,
    site: str = "imported",
) -> ImportSummary:
    """Any CSV listing images; paths are relative to the CSV's folder unless absolute."""
    table = Path(table)
    frame = pd.read_csv(table, dtype=str)
    for col in (path_col, subject_col, age_col, sex_col):
        if col is not None and col not in frame.columns:
            raise SchemaError(f"{table}: no column '{col}'; columns: {', '.join(frame.columns)}")
    summary = ImportSummary(Path(out))
    subjects, media = [], []
    sex_map = {"m": "M", "male": "M", "f": "F", "female": "F", "1": "M", "0": "F"}
    for row_number, row in enumerate(frame.to_dict("records"), start=1):
        path = Path(str(row[path_col]))
        path = path if path.is_absolute() else table.parent / path
        if not path.is_file():
            summary.skip("image file missing", f"row {row_number}: {path}")
            continue
        sid = str(row[subject_col]) if subject_col else path.stem
        entry: dict = {"subject_id": sid}
        if age_col:
            try:
                entry["age"] = float(row[age_col])
            except (TypeError, ValueError):
                summary.skip("age not a number", f"row {row_number}: {row[age_col]}")
                continue
        else:
            entry["age"] = None
        entry["sex"] = sex_map.get(str(row[sex_col]).strip().lower(), "X") if sex_col else "X"
        subjects.append(entry)
        media.append(_media_row(path, sid, len(media)))
    return _finish(summary, subjects, media, site)


def import_folder(folder: str | Path, out: str | Path) -> ImportSummary:
    """An unlabeled image folder (FFHQ, CelebA, ...) -> ``images.csv`` (path) for self-supervised pretraining."""
    folder = Path(folder)
    out = Path(out)
    summary = ImportSummary(out)
    images = _images(folder)
    others = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES]
    for p in others:
        summary.skip("not an image", str(p.relative_to(folder)))
    if not images:
        raise SchemaError(f"{folder}: no images found")
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"path": [str(p.resolve()) for p in images]}).to_csv(out / "images.csv", index=False)
    summary.media = len(images)
    (out / "import_report.json").write_text(json.dumps(summary.as_dict(), indent=2))
    return summary


def import_dataset(
    kind: str,
    source: str | Path,
    out: str | Path,
    *,
    path_col: str = "path",
    subject_col: str | None = None,
    age_col: str | None = None,
    sex_col: str | None = None,
) -> ImportSummary:
    """Import a dataset of one of the :data:`DATASET_KINDS` (the column names apply to ``csv`` only).

    Raises:
        ConfigError: ``kind`` is not one of them.
    """
    if kind == "utkface":
        return import_utkface(source, out)
    if kind == "imdb-wiki":
        return import_imdb_wiki(source, out)
    if kind == "agedb":
        return import_agedb(source, out)
    if kind == "csv":
        return import_csv(source, out, path_col, subject_col, age_col, sex_col)
    if kind == "folder":
        return import_folder(source, out)
    raise ConfigError(f"unknown dataset kind '{kind}'; use one of {', '.join(DATASET_KINDS)}")
