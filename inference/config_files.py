"""Reading YAML config files into pydantic models with messages that name file and key."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
SETTINGS_FILE = "settings_file"  # validation context key: the file being read, for messages


def project_configs_dir() -> Path:
    """``configs/`` of the source tree (editable installs, ``ray job`` working dirs)."""
    beside_code = Path(__file__).resolve().parents[1] / "configs"
    return beside_code if beside_code.is_dir() else Path.cwd() / "configs"


class ConfigError(ValueError):
    """A config file is missing, unreadable or invalid; the message names file and key."""


def describe_validation_error(path: Path | str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key '{key}'")
        elif err["type"] == "missing":
            problems.append(f"'{key}' is required")
        else:
            problems.append(f"'{key}': {err['msg']} (got {err.get('input')!r})")
    return f"{path}: " + "; ".join(problems)


def read_yaml_mapping(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_config(path: Path, model: type[ModelT]) -> ModelT:
    """``path`` validated into ``model``; the file is in the validation context
    (``SETTINGS_FILE``), so a validator's warning can name it."""
    data = read_yaml_mapping(path)
    try:
        return model.model_validate(data, context={SETTINGS_FILE: str(path)})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc)) from None


def load_settings(model: type[ModelT], path: Path | None, *, default_name: str) -> ModelT:
    """Every settings file's one loader: ``path``; without one, ``configs/<default_name>``
    when that file exists; else the defaults of ``model``."""
    if path is None:
        default = project_configs_dir() / default_name
        if not default.is_file():
            return model()
        path = default
    return load_config(path, model)
