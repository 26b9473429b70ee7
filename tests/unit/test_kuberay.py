"""The KubeRay manifests and the cluster Serve config agree with configs/serve.yaml.

``deploy/generate.py`` merges ``deploy/serve-overlay.yaml`` onto ``configs/serve.yaml``; the
RayService's ``serveConfigV2`` and ``deploy/serve-cluster.yaml`` must be exactly its output,
and the result must be a Serve config that Ray itself accepts.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from deploy import generate

ROOT = Path(__file__).resolve().parents[2]
KUBERAY = ROOT / "deploy" / "kuberay"
RAYSERVICE = KUBERAY / "rayservice.yaml"
RAYJOB = KUBERAY / "rayjob-backfill.yaml"
SECRET = "moodwire-secrets"


def load(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def rayservice() -> dict:
    return load(RAYSERVICE)


@pytest.fixture(scope="module")
def rayjob() -> dict:
    return load(RAYJOB)


@pytest.fixture(scope="module")
def embedded(rayservice) -> dict:
    return yaml.safe_load(rayservice["spec"]["serveConfigV2"])


# -- generated files agree with configs/serve.yaml -------------------------------------------


def test_generated_files_on_disk_are_what_the_generator_produces():
    stale = generate.stale(generate.outputs())
    assert not stale, f"stale: {[str(p.relative_to(ROOT)) for p in stale]}; run `make kuberay`"


def test_check_passes_on_the_repository(capsys):
    assert generate.main(["--check"]) == 0
    assert capsys.readouterr().err == ""


def test_check_fails_when_serve_yaml_changes(tmp_path, capsys):
    changed = load(generate.SERVE_CONFIG)
    changed["applications"][0]["args"]["max_texts_per_request"] = 512
    serve_yaml = tmp_path / "serve.yaml"
    serve_yaml.write_text(yaml.safe_dump(changed, sort_keys=False), encoding="utf-8")

    before = {path: path.read_text(encoding="utf-8") for path in (generate.SERVE_CLUSTER, RAYSERVICE)}
    assert generate.main(["--check", "--serve-config", str(serve_yaml)]) == 1
    err = capsys.readouterr().err
    assert "deploy/kuberay/rayservice.yaml is stale: run `make kuberay`" in err
    assert "deploy/serve-cluster.yaml is stale" in err
    assert "max_texts_per_request: 512" in err  # the diff shows what changed
    assert before == {path: path.read_text(encoding="utf-8") for path in before}, "--check wrote a file"


def test_the_embedded_block_is_the_same_config_as_serve_cluster_yaml(embedded):
    assert embedded == load(generate.SERVE_CLUSTER)


def test_applications_match_serve_yaml(embedded):
    source = load(generate.SERVE_CONFIG)
    assert [app["name"] for app in embedded["applications"]] == [app["name"] for app in source["applications"]]
    for ours, theirs in zip(embedded["applications"], source["applications"], strict=True):
        assert ours["import_path"] == theirs["import_path"]
        assert ours["route_prefix"] == theirs["route_prefix"]
        # The cluster runs the models as their own deployments (GPU nodes); nothing else differs.
        assert theirs["args"]["model_layout"] == "colocated" and ours["args"]["model_layout"] == "deployments"
        assert {**ours["args"], "model_layout": None} == {**theirs["args"], "model_layout": None}
        names = [d["name"] for d in ours["deployments"]]
        assert names == [d["name"] for d in theirs["deployments"]] + ["EmotionModel", "EmbeddingModel"]


def test_cluster_form_binds_all_interfaces_and_puts_models_on_gpus(embedded):
    assert embedded["http_options"]["host"] == "0.0.0.0"
    assert embedded["http_options"]["port"] == 8000
    deployments = {d["name"]: d for d in embedded["applications"][0]["deployments"]}
    for model in ("EmotionModel", "EmbeddingModel"):
        assert 0 < deployments[model]["ray_actor_options"]["num_gpus"] <= 1
    for cpu_only in ("Aggregator", "AlertWatcher", "Gateway"):
        assert not deployments[cpu_only]["ray_actor_options"].get("num_gpus")
    assert deployments["AlertWatcher"]["num_replicas"] == 1  # one watcher: one delivery per alert
    assert deployments["AlertWatcher"]["ray_actor_options"]["num_cpus"] <= 0.01


def test_embedded_config_is_valid_for_rays_serve_schema(embedded):
    from ray.serve.schema import DeploymentSchema, RayActorOptionsSchema, ServeApplicationSchema, ServeDeploySchema

    ServeDeploySchema.model_validate(embedded)
    # Serve's models ignore unknown keys (forward compatibility), so a typo would pass
    # silently: check every key against the fields Serve knows.
    assert set(embedded) <= set(ServeDeploySchema.model_fields)
    for app in embedded["applications"]:
        assert set(app) <= set(ServeApplicationSchema.model_fields)
        for deployment in app["deployments"]:
            assert set(deployment) <= set(DeploymentSchema.model_fields), deployment["name"]
            assert set(deployment.get("ray_actor_options", {})) <= set(RayActorOptionsSchema.model_fields)


@pytest.mark.parametrize("source", ["cluster", "local"])
def test_args_and_batch_knobs_validate_with_the_apps_own_models(embedded, source):
    from serve_app.config import BatchConfig, ColocatedBatchConfig, ServeAppArgs

    app = (embedded if source == "cluster" else load(generate.SERVE_CONFIG))["applications"][0]
    args = ServeAppArgs.model_validate(app["args"])
    deployments = {d["name"]: d for d in app["deployments"]}
    for name in ("EmotionModel", "EmbeddingModel"):
        if name in deployments:
            BatchConfig.model_validate(deployments[name]["user_config"])
    gateway_config = deployments["Gateway"].get("user_config")
    if args.model_layout == "colocated":
        ColocatedBatchConfig.model_validate(gateway_config)
        assert not {"EmotionModel", "EmbeddingModel"} & set(deployments)
    else:
        assert gateway_config is None  # Gateway refuses batch settings it has no models for


def test_serve_schema_catches_a_broken_overlay(embedded):
    from pydantic import ValidationError
    from ray.serve.schema import ServeDeploySchema

    broken = generate.merge(
        embedded,
        {"applications": [{"name": "moodwire", "deployments": [{"name": "EmotionModel", "num_replicas": 2}]}]},
    )
    with pytest.raises(ValidationError, match="num_replicas"):  # an int beside autoscaling_config
        ServeDeploySchema.model_validate(broken)


def test_overlay_cannot_add_a_misspelt_deployment():
    overlay = {"applications": [{"name": "moodwire", "deployments": [{"name": "EmotionModle"}]}]}
    with pytest.raises(generate.GenerateError, match="EmotionModle"):
        generate.merge(load(generate.SERVE_CONFIG), overlay)


def test_replace_block_keeps_the_rest_of_the_manifest():
    manifest = "a: 1\nspec:\n  serveConfigV2: |\n    old: 1\n\n    older: 2\n  rayClusterConfig:\n    x: 1\n"
    assert generate.replace_block(manifest, "new: 1\n") == (
        "a: 1\nspec:\n  serveConfigV2: |\n    new: 1\n  rayClusterConfig:\n    x: 1\n"
    )
    with pytest.raises(generate.GenerateError):
        generate.replace_block("spec: {}\n", "new: 1\n")


# -- manifest structure ----------------------------------------------------------------------


def cluster_specs(rayservice: dict, rayjob: dict) -> list[tuple[str, dict]]:
    return [("RayService", rayservice["spec"]["rayClusterConfig"]), ("RayJob", rayjob["spec"]["rayClusterSpec"])]


def containers(cluster: dict) -> list[dict]:
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    return [container for group in groups for container in group["template"]["spec"]["containers"]]


def test_manifests_have_the_required_keys(rayservice, rayjob):
    for manifest, kind in ((rayservice, "RayService"), (rayjob, "RayJob")):
        assert manifest["apiVersion"] == "ray.io/v1"
        assert manifest["kind"] == kind
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", manifest["metadata"]["name"])
    for _, cluster in cluster_specs(rayservice, rayjob):
        head = cluster["headGroupSpec"]
        assert isinstance(head["rayStartParams"], dict)
        assert all(isinstance(value, str) for value in head["rayStartParams"].values())
        assert head["template"]["spec"]["containers"]
        assert cluster["workerGroupSpecs"]
        for group in cluster["workerGroupSpecs"]:
            assert group["groupName"]
            assert isinstance(group["rayStartParams"], dict)
            assert group["template"]["spec"]["containers"]
            assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        for container in containers(cluster):
            assert container["name"] and container["image"]


def test_gpu_workers_ask_for_a_gpu_and_start_from_zero(rayservice, rayjob):
    for kind, cluster in cluster_specs(rayservice, rayjob):
        gpu = next(group for group in cluster["workerGroupSpecs"] if group["groupName"] == "gpu")
        assert gpu["minReplicas"] == 0, kind
        assert cluster["enableInTreeAutoscaling"] is True, kind
        limits = gpu["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert int(limits["nvidia.com/gpu"]) >= 1, kind


def test_head_exposes_serve_and_dashboard(rayservice):
    head = rayservice["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    ports = {port["name"]: port["containerPort"] for port in head["ports"]}
    assert ports["serve"] == 8000
    assert ports["dashboard"] == 8265


def test_database_url_comes_from_a_secret_in_every_container(rayservice, rayjob):
    for kind, cluster in cluster_specs(rayservice, rayjob):
        for container in containers(cluster):
            env = {item["name"]: item for item in container.get("env", [])}
            ref = env["MOODWIRE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": SECRET, "key": "database-url"}, (kind, container["name"])
            assert "value" not in env["MOODWIRE_DATABASE_URL"]


def test_no_secrets_in_the_manifests():
    for path in (RAYSERVICE, RAYJOB, generate.SERVE_CLUSTER):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"postgres(ql)?(\+\w+)?://\w+:[^@\s]+@", text), path


def test_ray_version_is_the_same_everywhere(rayservice, rayjob):
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"^ARG RAY_IMAGE=rayproject/ray:([\d.]+)-", dockerfile, re.M)[1]
    pinned = re.search(r'"ray\[[a-z,]+\]==([\d.]+)"', dockerfile)[1]
    versions = {cluster["rayVersion"] for _, cluster in cluster_specs(rayservice, rayjob)}
    assert versions == {base} == {pinned}


# -- the backfill RayJob ---------------------------------------------------------------------


def test_rayjob_entrypoint_parses_with_the_backfill_cli(rayjob):
    from batch_jobs.backfill import build_parser

    argv = shlex.split(rayjob["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", "batch_jobs.backfill"]
    args = build_parser().parse_args(argv[3:])
    assert args.database_url is None, "the URL comes from $MOODWIRE_DATABASE_URL (the Secret), not the command line"
    assert args.config is not None


def test_rayjob_runs_in_the_project_and_its_config_loads(rayjob):
    from batch_jobs.backfill import build_parser
    from batch_jobs.config import load_backfill_settings

    runtime_env = yaml.safe_load(rayjob["spec"]["runtimeEnvYAML"])
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    workdir = re.search(r"^WORKDIR (\S+)", dockerfile, re.M)[1]
    assert runtime_env["working_dir"] == workdir, "working_dir is the project inside the image"

    args = build_parser().parse_args(shlex.split(rayjob["spec"]["entrypoint"])[3:])
    settings = load_backfill_settings(ROOT / args.config)  # relative to the working_dir
    assert settings.emotion.num_gpus > 0
    assert settings.analysis.num_gpus > 0
