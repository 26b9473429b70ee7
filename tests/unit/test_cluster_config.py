"""cluster.yaml against the cluster-config schema that ships inside Ray, as `ray up` checks it.

The schema rejects unknown keys at the top level, in node types, in ``docker`` and in
``provider.security_group`` (``additionalProperties: false``), but not inside ``provider``
itself; the provider check below closes that gap with the schema's own property list.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_YAML = ROOT / "cluster.yaml"


@pytest.fixture(scope="module")
def schema() -> dict:
    import ray.autoscaler

    with open(Path(ray.autoscaler.__file__).parent / "ray-schema.json", encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture
def config() -> dict:
    with open(CLUSTER_YAML, encoding="utf-8") as f:
        return yaml.safe_load(f)


def validate(config: dict, schema: dict) -> None:
    """The schema check plus what the schema leaves open: unknown ``provider`` keys."""
    jsonschema.validate(config, schema)
    known = set(schema["properties"]["provider"]["properties"])
    unknown = set(config["provider"]) - known
    if unknown:
        raise jsonschema.ValidationError(f"unknown provider key(s) {sorted(unknown)}; known: {sorted(known)}")


def test_cluster_yaml_validates_against_rays_schema(config, schema):
    validate(config, schema)


def test_ray_accepts_it_the_way_ray_up_does(config):
    # `ray up` merges the provider's defaults (ray/autoscaler/aws/defaults.yaml), then validates.
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    assert prepared["available_node_types"]["head"]["max_workers"] == 0


def test_the_schema_rejects_unknown_keys(schema):
    # The property that makes the negative tests below meaningful.
    assert schema["additionalProperties"] is False
    node_type = schema["properties"]["available_node_types"]["patternProperties"][".*"]
    assert node_type["additionalProperties"] is False


@pytest.mark.parametrize(
    ("where", "good", "typo"),
    [
        ((), "head_node_type", "head_node_typ"),
        (("available_node_types", "gpu_worker"), "min_workers", "min_worker"),
        (("available_node_types", "head"), "node_config", "node_configs"),
        (("docker",), "head_image", "head_imag"),
        (("provider", "security_group"), "IpPermissions", "IpPermission"),
        (("provider",), "availability_zone", "availabilty_zone"),
    ],
)
def test_a_typod_key_is_rejected(config, schema, where, good, typo):
    broken = copy.deepcopy(config)
    section = broken
    for key in where:
        section = section[key]
    section[typo] = section.pop(good)
    with pytest.raises(jsonschema.ValidationError, match=re.escape(typo)):
        validate(broken, schema)


def test_a_wrong_type_is_rejected(config, schema):
    broken = copy.deepcopy(config)
    broken["available_node_types"]["gpu_worker"]["resources"]["GPU"] = "one"
    with pytest.raises(jsonschema.ValidationError):
        validate(broken, schema)


def test_gpu_workers_autoscale_from_zero(config):
    nodes = config["available_node_types"]
    assert config["head_node_type"] == "head"
    assert nodes["head"]["resources"].get("GPU", 0) == 0
    gpu = nodes["gpu_worker"]
    assert gpu["min_workers"] == 0
    assert gpu["max_workers"] >= 1
    assert gpu["resources"]["GPU"] >= 1
    assert gpu["node_config"]["InstanceType"].startswith(("g4dn.", "g5.", "g6.", "g6e.", "p4d.", "p5."))
    assert sum(node.get("min_workers", 0) for node in nodes.values()) <= config["max_workers"]


def test_serve_and_dashboard_ports_are_opened_the_aws_way(config):
    rules = config["provider"]["security_group"]["IpPermissions"]
    opened = {rule["FromPort"]: rule for rule in rules if rule["FromPort"] == rule["ToPort"]}
    for port in (8000, 8265):
        assert port in opened, f"no inbound rule for port {port}"
        assert opened[port]["IpProtocol"] == "tcp"
        assert all("CidrIp" in cidr for cidr in opened[port]["IpRanges"])
    # The dashboard runs submitted code: it must not be open to the whole internet.
    assert all(cidr["CidrIp"] != "0.0.0.0/0" for cidr in opened[8265]["IpRanges"])


def test_start_commands_are_the_launchers_with_dashboard_and_secrets(config):
    head = " ".join(config["head_start_ray_commands"])
    worker = " ".join(config["worker_start_ray_commands"])
    assert config["head_start_ray_commands"][0] == "ray stop"
    assert "--head" in head
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in head  # without it nothing autoscales
    assert "--dashboard-host=0.0.0.0" in head
    assert "--address=$RAY_HEAD_IP:6379" in worker
    for command in (head, worker):
        assert ". ~/.moodwire-secrets/env" in command  # MOODWIRE_DATABASE_URL for every Ray process
        assert "RAY_AUTH_MODE=token" in command


def test_setup_installs_the_project_with_cpu_torch_on_the_head_only(config):
    head, worker = config["head_setup_commands"], config["worker_setup_commands"]
    project = next(i for i, cmd in enumerate(head) if "-e ~/moodwire" in cmd)
    cpu_torch = next(i for i, cmd in enumerate(head) if "download.pytorch.org/whl/cpu" in cmd)
    assert cpu_torch < project, "the CPU wheel must be in place before the project pulls torch"
    assert any("-e ~/moodwire" in cmd for cmd in worker)
    assert not any("--index-url" in cmd for cmd in worker), "GPU workers take CUDA torch from PyPI"
    assert config["file_mounts"]["~/moodwire"] == "."


def test_ray_versions_agree(config):
    images = [config["docker"]["image"], config["docker"]["head_image"]]
    versions = {re.fullmatch(r"rayproject/ray:([\d.]+)-py311-(?:gpu|cpu)", image)[1] for image in images}
    commands = config["head_setup_commands"] + config["worker_setup_commands"]
    pins = {pin for cmd in commands for pin in re.findall(r'"ray\[[a-z,]+\]==([\d.]+)"', cmd)}
    assert len(versions) == 1
    assert pins == versions, "pip must not move Ray away from the image's version"


def test_no_secrets_in_the_file():
    text = CLUSTER_YAML.read_text(encoding="utf-8")
    assert "MOODWIRE_DATABASE_URL" in text
    credentials = re.findall(r"://([^\s/:@'\"]+):([^\s/@'\"]+)@", text)
    assert set(credentials) <= {("user", "password")}, "a URL with a real password"
