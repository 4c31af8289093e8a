"""TrainConfig: validation errors name the key; TOML/YAML files; flags over the file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from brightingest.errors import TrainerError
from brightingest.train import cli as train_cli
from brightingest.train.config import TrainConfig


def test_defaults_and_round_trip() -> None:
    cfg = TrainConfig.from_dict({"model": "m", "max_steps": 10, "lr": 1})
    assert cfg.lr == 1.0
    assert isinstance(cfg.lr, float)
    assert cfg.packing is True
    assert cfg.bf16 == "auto"
    assert cfg.truncation == "truncate"
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_key_names_it_and_suggests() -> None:
    with pytest.raises(TrainerError) as info:
        TrainConfig.from_dict({"model": "m", "lora_rank": 8})
    assert info.value.code == "bad_config"
    assert info.value.field == "lora_rank"
    assert str(info.value).startswith(
        'lora_rank: unknown setting "lora_rank".\nHint: did you mean "lora_r"? Known settings: '
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_steps", "10", 'max_steps: expected an integer or null, got "10" (str).'),
        ("packing", 1, "packing: expected true or false, got 1 (int)."),
        ("bf16", "yes", 'bf16: expected "auto" or true or false, got "yes" (str).'),
        ("truncation", "cut", 'truncation: expected "truncate" or "drop", got "cut" (str).'),
        ("lr", -1.0, "lr: must be positive, got -1.0."),
        ("eval_ratio", 1.5, "eval_ratio: must be in [0, 1), got 1.5."),
        (
            "target_modules",
            [1],
            "target_modules: expected a list of strings or null, got [1] (list).",
        ),
    ],
)
def test_wrong_values_name_the_key(key: str, value: object, message: str) -> None:
    with pytest.raises(TrainerError) as info:
        TrainConfig.from_dict({"model": "m", key: value})
    assert info.value.field == key
    assert str(info.value) == f"{message}\nHint: fix {key} in the config or on the command line."


def test_missing_model_and_budget_below_max_length() -> None:
    with pytest.raises(TrainerError, match="^model: no base model given"):
        TrainConfig.from_dict({"max_steps": 3})
    with pytest.raises(TrainerError) as info:
        TrainConfig(model="m", max_length=4096, token_budget=1024)
    assert info.value.field == "token_budget"


def test_toml_and_yaml_files(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[train]\nmodel = "m"\nlora_r = 4\ntarget_modules = ["q_proj"]\n')
    cfg = TrainConfig.from_file(toml, lora_r=8, seed=None)
    assert (cfg.lora_r, cfg.target_modules, cfg.seed) == (8, ["q_proj"], 42)
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("model: m\nbf16: false\ngradient_checkpointing: auto\n")
    cfg = TrainConfig.from_file(yaml_file)
    assert cfg.bf16 is False
    assert cfg.gradient_checkpointing == "auto"
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "m"\nepochs = "two"\n')
    with pytest.raises(TrainerError) as info:
        TrainConfig.from_file(bad)
    assert str(info.value).startswith(f'{bad}: epochs: expected an integer, got "two" (str).')
    broken = tmp_path / "broken.toml"
    broken.write_text("model = \n")
    with pytest.raises(TrainerError, match="invalid TOML"):
        TrainConfig.from_file(broken)


def test_cli_flags_override_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("model: from-file\nlr: 0.001\nlora_r: 4\npacking: true\n")
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    args = parser.parse_args(
        ["--model", "flag", "-o", "out", "--config", str(conf), "--lora-r", "32", "--no-packing"]
    )
    cfg = train_cli.config_from_args(args)
    assert (cfg.model, cfg.lr, cfg.lora_r, cfg.packing, cfg.resume) == (
        "flag",
        0.001,
        32,
        False,
        False,
    )
    args = parser.parse_args(["--model", "m", "-o", "out", "--resume", "--max-steps", "7"])
    cfg = train_cli.config_from_args(args)
    assert (cfg.resume, cfg.max_steps, cfg.packing) == (True, 7, True)


def test_a_model_named_as_a_missing_path_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(TrainerError) as info:
        TrainConfig(model=str(tmp_path / "nomodel"))
    assert info.value.code == "bad_config"
    assert info.value.field == "model"
    assert "names a directory that does not exist" in str(info.value)
    with pytest.raises(TrainerError):
        TrainConfig(model="./surely-not-here")
    assert TrainConfig(model=str(tmp_path)).model == str(tmp_path)  # a directory: fine
    assert TrainConfig(model="org/name").model == "org/name"  # a hub id: not checked here
