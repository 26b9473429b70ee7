"""CPU reservations on the 2-CPU machine: the app of configs/serve.yaml and a backfill with
configs/backfill-beside-serve.yaml must both start, so their reservations must sum to 2 or less."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from batch_jobs.config import load_backfill_settings

ROOT = Path(__file__).resolve().parents[2]
MACHINE_CPUS = 2


def app_deployments() -> dict[str, dict]:
    config = yaml.safe_load((ROOT / "configs" / "serve.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in config["applications"][0]["deployments"]}


def app_cpus() -> float:
    """Every replica's ``num_cpus`` (deployments without the key reserve Serve's default, 1)."""
    return sum(
        d.get("num_replicas", 1) * d.get("ray_actor_options", {}).get("num_cpus", 1) for d in app_deployments().values()
    )


def backfill_cpus() -> float:
    """The fused job's actors at their largest, plus one read/validate task at a time."""
    job = load_backfill_settings(ROOT / "configs" / "backfill-beside-serve.yaml")
    assert job.layout == "fused"
    return job.models.max_size * job.models.num_cpus + job.writer.max_size * job.writer.num_cpus + job.io_num_cpus


def test_the_alert_watcher_asks_for_at_most_a_hundredth_of_a_cpu():
    watcher = app_deployments()["AlertWatcher"]
    assert watcher["num_replicas"] == 1 and watcher["ray_actor_options"]["num_cpus"] <= 0.01


def test_a_backfill_fits_beside_the_app_on_two_cpus():
    assert app_cpus() == pytest.approx(1.51)  # 2 Gateways x 0.7 + Aggregator 0.1 + AlertWatcher 0.01
    assert app_cpus() + backfill_cpus() <= MACHINE_CPUS
