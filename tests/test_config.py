from __future__ import annotations

from pathlib import Path

import pytest

from jobs.config import ConfigError, load_config

CONF = Path(__file__).resolve().parent.parent / "conf"


@pytest.mark.parametrize("env", ["local", "cluster", "cluster-gpu"])
def test_every_shipped_overlay_validates(env):
    config = load_config(env, CONF)
    assert config.env == env
    expected = ["transformers", "rules"] if env == "cluster-gpu" else ["spacy", "rules"]
    assert config.ner.backends == expected
    assert config.ner.resources.enabled == (env == "cluster-gpu")


def test_ner_settings_are_checked_together():
    with pytest.raises(ConfigError, match=r"needs ner\.transformers\.model_path"):
        load_config("local", CONF, ["ner.backends=[spacy, transformers]"])
    with pytest.raises(ConfigError, match=r"stride \(600\) must be smaller"):
        load_config("local", CONF, ["ner.transformers.stride=600"])
    with pytest.raises(ConfigError, match=r"task_gpus > 0 needs executor_gpus > 0"):
        load_config("local", CONF, ["ner.resources.task_gpus=1"])
    with pytest.raises(ConfigError, match=r"ner\.merge\.priority\.0\.source = 'bert'"):
        load_config("local", CONF, ["ner.merge.priority=[{source: bert}]"])
    with pytest.raises(ConfigError, match=r"ner\.labels\.0 = 'org'"):
        load_config("local", CONF, ["ner.labels=[org]"])


def test_overlay_changes_only_what_it_sets():
    local = load_config("local", CONF)
    cluster = load_config("cluster", CONF)
    assert local.spark.master == "local[*]"
    assert cluster.spark.master is None
    assert cluster.spark.shuffle_partitions == 200
    # untouched by the overlay: the base value
    assert cluster.extract.ocr.dpi == local.extract.ocr.dpi == 300
    assert cluster.spark.conf["spark.executorEnv.OMP_THREAD_LIMIT"] == "1"


def test_env_variable_selects_overlay(monkeypatch):
    monkeypatch.setenv("DOCNER_ENV", "cluster")
    assert load_config(conf_dir=CONF).env == "cluster"
    assert load_config("local", CONF).env == "local"  # the flag wins over the variable


def test_override_parses_yaml_values():
    config = load_config("local", CONF, ["extract.ocr.dpi=150", "ner.spacy.labels=[ORG, PERSON]"])
    assert config.extract.ocr.dpi == 150
    assert config.ner.spacy.labels == ["ORG", "PERSON"]


def test_bad_value_names_key_value_and_file(tmp_path):
    (tmp_path / "base.yaml").write_text((CONF / "base.yaml").read_text())
    (tmp_path / "bad.yaml").write_text("extract:\n  ocr:\n    dpi: lots\n")
    with pytest.raises(ConfigError) as info:
        load_config("bad", tmp_path)
    message = str(info.value)
    assert "extract.ocr.dpi" in message
    assert "'lots'" in message
    assert "bad.yaml" in message


def test_out_of_range_value_is_rejected():
    with pytest.raises(ConfigError, match=r"extract\.ocr\.dpi = 5000"):
        load_config("local", CONF, ["extract.ocr.dpi=5000"])


def test_unknown_key_is_rejected_with_its_name():
    with pytest.raises(ConfigError, match=r"spark\.shufle_partitions = 3: unknown key"):
        load_config("local", CONF, ["spark.shufle_partitions=3"])


def test_unknown_env_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown environment 'prod'.*cluster, cluster-gpu, local"):
        load_config("prod", CONF)


def test_malformed_yaml_is_reported(tmp_path):
    (tmp_path / "base.yaml").write_text("spark: [unclosed\n")
    (tmp_path / "local.yaml").write_text("")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config("local", tmp_path)


def test_override_of_a_spark_setting_with_dots_in_its_name():
    config = load_config("local", CONF, ["spark.conf[spark.eventLog.enabled]=true"])
    assert config.spark.conf == {"spark.eventLog.enabled": True}


def test_override_without_equals_sign():
    with pytest.raises(ConfigError, match=r"KEY\.PATH=VALUE"):
        load_config("local", CONF, ["spark.master"])


def test_every_conf_file_is_installed_with_the_package():
    """An installed docner (the spark-submit archive) reads conf from share/docner/conf: a
    file left out of setup.cfg's data_files (a quality suite, say) would silently be missing."""
    import configparser

    repo = Path(__file__).resolve().parent.parent
    parser = configparser.ConfigParser()
    parser.read(repo / "setup.cfg")
    listed = {
        line.strip() for value in parser["options.data_files"].values() for line in value.splitlines() if line.strip()
    }
    shipped = {str(p.relative_to(repo)) for p in (repo / "conf").rglob("*") if p.is_file()}
    assert shipped == listed
