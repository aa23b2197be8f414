from __future__ import annotations

import json
import math
import shutil
from html.parser import HTMLParser

import pandas as pd
import pytest

from facehealth.report import build_report
from facehealth.report.run_folder import metric_at

SECTIONS = ("run", "cohort", "training", "performance", "studies", "explanations", "robustness", "model-card")


class _Parsed(HTMLParser):
    """Sections (id -> ran?), metric cells (path, raw value, text), image sources and every URL attribute."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: dict[str, bool] = {}
        self.cells: list[tuple[str, str, str]] = []
        self.images: list[str] = []
        self.urls: list[str] = []
        self._cell: list | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = dict(attrs)
        if tag == "section":
            self.sections[a["id"]] = a.get("class") == "ran"
        if tag == "td" and "data-metric" in a:
            self._cell = [a["data-metric"], a["data-value"], ""]
        if tag == "img":
            self.images.append(a.get("src", ""))
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data):  # noqa: ANN001
        if self._cell is not None:
            self._cell[2] += data

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag == "td" and self._cell is not None:
            self.cells.append(tuple(self._cell))
            self._cell = None


def _expected_text(node) -> str:  # noqa: ANN001
    """The report's format, written out independently: value [low, high], 3 decimals, n/a for NaN."""

    def f(x) -> str:  # noqa: ANN001
        if isinstance(x, int) and not isinstance(x, bool):
            return str(x)
        return "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"

    if isinstance(node, dict):
        v = node["value"]
        if node.get("low") is None or node.get("high") is None or not math.isfinite(v):
            return f(v)
        return f"{f(v)} [{f(node['low'])}, {f(node['high'])}]"
    return f(node)


def test_every_section_renders(full_run, full_report):
    html = full_report.read_text()
    parsed = _Parsed(html)
    assert full_report == full_report.parent / "report.html"
    for sid in SECTIONS:
        assert parsed.sections.get(sid) is True, f"section {sid} did not render"
    for sub in (
        "perf-biomarkers",
        "perf-age",
        "survival",
        "perf-cad",
        "perf-affective",
        "external",
        "subgroups",
        "baselines",
        "label-efficiency",
    ):
        assert parsed.sections.get(sub) is True, sub
    assert "SYNTHETIC DATA" in html
    assert "not run" not in html.replace("(not run)", "")
    assert "screening aid, not a diagnosis" in html
    assert "TRIPOD+AI" in html
    # QC reasons, system groups, survival.json numbers and the contact sheet made it in
    assert "no_face" in html and "electrolyte / endocrine" in html
    assert 'alt="Fine-tuning (video model)"' in html and "video / timebins" in html  # the affective video model
    assert "none (reads landmark motion only)" in html and "68 landmarks&#39; motion" in html
    survival = json.loads((full_run / "evaluate/survival.json").read_text())["splits"]
    for split in ("test", "external"):
        assert parsed.sections[f"survival-{split}"] is True
        hr = survival[split]["hazard_ratios"]["per_sd_of_risk"]
        assert f"{hr['hr']:.3f} [{hr['low']:.3f}, {hr['high']:.3f}]" in html
    assert len(parsed.images) >= 15
    # The clinical analyses: every Cox term, the face-age gap against a prior model, a forest per task.
    assert "Cox model of the risk (per training SD) and every covariate" in html and "sex M vs F" in html
    assert parsed.sections.get("survival-face-age") is True and "HR per 5 years of face-age gap" in html
    assert "the prior model&#39;s gap added to this model&#39;s" in html
    assert 'alt="Subgroups: age / mae"' in html and 'alt="Subgroups: cad / auroc"' in html


def test_printed_metrics_equal_metrics_json(full_run, full_report):
    metrics = json.loads((full_run / "evaluate/metrics.json").read_text())
    cells = _Parsed(full_report.read_text()).cells
    assert len(cells) > 100
    for path, raw, text in cells:
        node = metric_at(metrics, path)
        assert node is not None, f"{path} is not in metrics.json"
        expected = node["value"] if isinstance(node, dict) else node
        shown = json.loads(raw)
        assert (math.isnan(shown) and math.isnan(expected)) or shown == expected, path
        assert text.strip() == _expected_text(node), path
    paths = {p for p, _, _ in cells}
    for required in (
        "splits.test.cad.auroc",
        "splits.external.survival.c_index",
        "splits.test.survival.uno_c_index",
        "splits.test.survival.ibs",
        "splits.test.biomarkers.haemoglobin.pearson_r",
        "splits.test.biomarkers.by_system_mean_r.hepatic",
        "splits.test.age.age.mae",
        "splits.test.affective.accuracy",
        "thresholds.cad",
    ):
        assert required in paths, required


def test_report_is_self_contained(full_report):
    html = full_report.read_text()
    parsed = _Parsed(html)
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert all(src.startswith("data:image/png;base64,") for src in parsed.images)
    assert all(u.startswith(("#", "data:")) for u in parsed.urls), [u for u in parsed.urls if not u.startswith("#")][:3]
    assert "<script" not in html and "<link" not in html


def test_missing_stages_show_not_run(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"synthetic": False, "stages": {}}))
    parsed_html = build_report(tmp_path, tmp_path / "out" / "r.html").read_text()
    parsed = _Parsed(parsed_html)
    assert parsed.sections["run"] is True
    for sid in ("cohort", "training", "performance", "studies", "explanations", "robustness"):
        assert parsed.sections[sid] is False, sid
    assert parsed_html.count("not run</p>") == 0 and parsed_html.count("<b>not run</b>") == 6
    assert "SYNTHETIC DATA" not in parsed_html
    assert parsed.sections["model-card"] is True  # the card says what is not available


def test_partial_run(full_run, tmp_path):
    run = tmp_path / "RUN"
    shutil.copytree(full_run, run, ignore=shutil.ignore_patterns("report.*"))
    for stage in ("evaluate", "explain", "pretrain"):
        shutil.rmtree(run / stage)
    info = json.loads((run / "run.json").read_text())
    info["stages"]["evaluate"] = {"seconds": 0.1, "status": "failed", "note": "SchemaError: no predictions"}
    (run / "run.json").write_text(json.dumps(info))
    (run / "cohort_faces/summary.json").write_text("{broken")
    with pytest.warns(UserWarning, match="unreadable JSON"):
        html = build_report(run).read_text()
    parsed = _Parsed(html)
    assert parsed.sections["cohort"] and parsed.sections["training"] and parsed.sections["robustness"]
    assert not parsed.sections["performance"] and not parsed.sections["explanations"]
    assert "MAE pretraining: not run." in html
    assert "stage &#39;evaluate&#39; failed: SchemaError: no predictions" in html
    assert "Face preparation (cohort_faces/summary.json): not run." in html
    assert not _Parsed(html).cells  # no metrics.json -> no metric cells
    assert parsed.sections["studies"]  # studies files are still there


def test_a_transductive_pretraining_is_stated_in_the_headline(full_run, full_report, tmp_path):
    assert "TRANSDUCTIVE PRETRAINING" not in full_report.read_text()  # the encoder saw training faces only
    run = tmp_path / "RUN"
    shutil.copytree(full_run, run, ignore=shutil.ignore_patterns("report.*"))
    splits = pd.read_csv(run / "cohort/splits.csv", dtype={"subject_id": str})
    held = splits.loc[splits["split"].isin(["test", "external"]), "subject_id"].tolist()
    meta = json.loads((run / "pretrain/checkpoint-last.json").read_text())
    meta["subjects"] = splits["subject_id"].tolist()  # every face, held-out ones too
    (run / "pretrain/checkpoint-last.json").write_text(json.dumps(meta))
    html = build_report(run).read_text()
    assert "TRANSDUCTIVE PRETRAINING" in html and f"faces of\n  {len(held)} test or external" in html


def test_headline_numbers_stand_beside_the_trivial_reference(full_run, tmp_path):
    run = tmp_path / "RUN"
    shutil.copytree(full_run, run, ignore=shutil.ignore_patterns("report.*"))
    metrics = json.loads((run / "evaluate/metrics.json").read_text())
    cad = metrics["splits"]["test"]["cad"]
    cad["reference"] = {"predicts": "the training prevalence, 0.300", "auroc": 0.5}
    cad["versus_reference"] = {"auroc": "no better"}
    (run / "evaluate/metrics.json").write_text(json.dumps(metrics))
    html = build_report(run).read_text()
    assert "trivial reference" in html and "the training prevalence, 0.300" in html and "no better" in html
