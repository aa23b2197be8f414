from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest
import yaml

from facehealth.config import load_config, merge_overrides, read_yaml_mapping, save_resolved, to_mapping
from facehealth.errors import ConfigError, FaceHealthError
from facehealth.faces.config import FacesConfig


def test_defaults_load_without_a_file():
    cfg = load_config(FacesConfig)
    assert cfg == FacesConfig()


def test_yaml_values_override_defaults(tmp_path):
    path = tmp_path / "faces.yaml"
    path.write_text("multi_face: reject\nalign:\n  size: 112\nquality:\n  min_face_px: 64\n")
    cfg = load_config(FacesConfig, path)
    assert cfg.multi_face == "reject"
    assert cfg.align.size == 112 and cfg.align.eye_distance == FacesConfig().align.eye_distance
    assert cfg.quality.min_face_px == 64.0 and isinstance(cfg.quality.min_face_px, float)


def test_unknown_key_names_the_path_and_suggests(tmp_path):
    path = tmp_path / "faces.yaml"
    path.write_text("align:\n  sise: 112\n")
    with pytest.raises(ConfigError, match=r"align: unknown key 'sise'; did you mean size\?"):
        load_config(FacesConfig, path)


def test_wrong_type_and_disallowed_literal_are_rejected():
    with pytest.raises(ConfigError, match=r"align.size: expected an integer, got 'big'"):
        load_config(FacesConfig, overrides={"align": {"size": "big"}})
    with pytest.raises(ConfigError, match=r"multi_face: 'first' is not allowed; choose one of"):
        load_config(FacesConfig, overrides={"multi_face": "first"})
    with pytest.raises(ConfigError, match="eye_distance must be in"):
        load_config(FacesConfig, overrides={"align": {"eye_distance": 2.0}})


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(FacesConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a mapping\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(FacesConfig, bad)
    assert issubclass(ConfigError, FaceHealthError)


def test_read_yaml_mapping_returns_the_unchecked_mapping(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("n_boot: 20\nfinetune: {epochs: 1, nmae: typo}\n")
    assert read_yaml_mapping(path) == {"n_boot": 20, "finetune": {"epochs": 1, "nmae": "typo"}}  # keys not checked
    (tmp_path / "empty.yaml").write_text("")
    assert read_yaml_mapping(tmp_path / "empty.yaml") == {}
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        read_yaml_mapping(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_yaml_mapping(tmp_path / "broken.yaml")
    with pytest.raises(ConfigError, match="not found"):
        read_yaml_mapping(tmp_path / "nope.yaml")


def test_merge_overrides_merges_nested_mappings_only():
    base = {"epochs": 10, "optim": {"base_lr": 1e-3, "warmup_epochs": 1.0}, "tasks": ["age", "cad"]}
    merged = merge_overrides(base, {"optim": {"base_lr": 2e-3}, "tasks": ["age"], "seed": 1})
    assert merged == {"epochs": 10, "optim": {"base_lr": 2e-3, "warmup_epochs": 1.0}, "tasks": ["age"], "seed": 1}
    assert base["optim"]["base_lr"] == 1e-3 and base["tasks"] == ["age", "cad"]  # the inputs are not changed
    assert merge_overrides(base, {"optim": None})["optim"] is None  # a non-mapping replaces the whole value


def test_studies_merge_the_same_way():
    from facehealth.studies import arms

    assert arms.merge_overrides is merge_overrides


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(FacesConfig, overrides={"video": {"fps": None, "every_n": 3}})
    path = save_resolved(cfg, tmp_path)
    data = yaml.safe_load(path.read_text())
    assert data.pop("kind") == "FacesConfig"
    assert load_config(FacesConfig, overrides=data) == cfg


@dataclass(frozen=True)
class Inner:
    sizes: tuple[int, ...] = (1, 2)
    mode: Literal["a", "b"] = "a"


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    name: str | None = None


def test_nested_optional_and_tuple_fields():
    cfg = load_config(Outer, overrides={"inner": {"sizes": [3, 4, 5]}, "name": None})
    assert cfg.inner.sizes == (3, 4, 5)
    assert to_mapping(cfg) == {"inner": {"sizes": [3, 4, 5], "mode": "a"}, "name": None}
    with pytest.raises(ConfigError, match=r"inner.sizes\[1\]: expected an integer"):
        load_config(Outer, overrides={"inner": {"sizes": [1, "x"]}})
