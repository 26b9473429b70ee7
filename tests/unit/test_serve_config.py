"""``configs/serve.yaml`` as ``moodwire serve`` reads it (no Ray started): the standard Serve
per-deployment keys it accepts reach the composed deployments, and an unknown one is refused
with the file and deployment named."""

from __future__ import annotations

import pytest
import yaml

from inference.config_files import ConfigError, project_configs_dir
from serve_app.app import compose_app
from serve_app.local import read_serve_config


def _config_with(tmp_path, **gateway_options):
    config = yaml.safe_load((project_configs_dir() / "serve.yaml").read_text(encoding="utf-8"))
    gateway = next(d for d in config["applications"][0]["deployments"] if d["name"] == "Gateway")
    gateway.update(gateway_options)
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_a_deployments_logging_config_reaches_the_composed_gateway(tmp_path):
    path = _config_with(tmp_path, logging_config={"enable_access_log": False, "log_level": "WARNING"})
    args, options = read_serve_config(path)
    assert options["Gateway"]["logging_config"] == {"enable_access_log": False, "log_level": "WARNING"}
    application = compose_app(args, options)
    logging_config = application._bound_deployment._deployment_config.logging_config
    assert logging_config["enable_access_log"] is False and logging_config["log_level"] == "WARNING"


def test_an_unknown_deployment_key_names_the_file_and_the_deployment(tmp_path):
    path = _config_with(tmp_path, logging_confg={"enable_access_log": False})
    with pytest.raises(ConfigError, match=r"serve\.yaml: deployment 'Gateway': unknown key\(s\) \['logging_confg'\]"):
        read_serve_config(path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_replicas": -1}, "'num_replicas': Input should be greater than or equal to 0 (got -1)"),
        ({"logging_config": {"log_level": "LOUD"}}, "'logging_config.log_level': Value error, Got \"LOUD\""),
        ({"ray_actor_options": {"num_cpu": 1}}, "Specifying 'num_cpu' in ray_actor_options is not allowed"),
    ],
)
def test_a_deployment_option_serve_refuses_names_the_file_deployment_and_key_before_ray_starts(
    tmp_path, capsys, options, message
):
    from moodwire.cli import main

    path = _config_with(tmp_path, **options)
    assert main(["serve", "--config", str(path), "--port", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"moodwire serve: {path}: deployment 'Gateway': ") and message in err
    assert "\n" not in err
