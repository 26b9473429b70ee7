"""EmotionModel and EmbeddingModel (``model_layout: deployments``): a ``ModelHost`` with one
model each, behind a ``HostBatcher`` whose knobs are the deployment's ``user_config``."""

from __future__ import annotations

from ray import serve

from serve_app.batcher import HostBatcher
from serve_app.config import BatchConfig
from serve_app.model_host import HostOutputs, ModelInfo


def replica_cpus() -> float:
    """The CPUs Ray reserved for this replica: model threads follow them."""
    import ray

    return ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)


def load_replica_host(settings, *, emotion: bool = True, embedding: bool = True):
    """A ``ModelHost`` for this replica: its threads fitted to the replica's CPUs, its batches
    reported as ``moodwire_batch_size`` and ``moodwire_model_batch_seconds``."""
    from inference.settings import PipelineSettings
    from serve_app.metrics import ModelMetrics
    from serve_app.model_host import ModelHost

    metrics = {name: ModelMetrics(name) for name in ("emotion", "embedding", "shared")}
    return ModelHost.load(
        PipelineSettings.model_validate(settings),
        emotion=emotion,
        embedding=embedding,
        cpus=replica_cpus(),
        observe=lambda model, texts, seconds: metrics[model].observe(texts, seconds),
    )


class ModelReplica:
    """What both model deployments do; each holds one of the two models."""

    batcher: HostBatcher

    def reconfigure(self, user_config: dict | None) -> None:
        self.batcher.configure(BatchConfig.model_validate(user_config or {}))

    def batch_settings(self) -> dict:
        """What the running batcher uses now, and which process (user_config needs no restart)."""
        import os

        return {"pid": os.getpid(), **self.batcher.batch_settings()}

    async def run(self, texts: list[str]) -> HostOutputs:
        return await self.batcher.run(texts)

    def info(self) -> ModelInfo:
        return self.batcher.host.info()


DEPLOYMENT_DEFAULTS = {
    "ray_actor_options": {"num_cpus": 0.5},
    "max_ongoing_requests": 128,
    "max_queued_requests": 1024,
    "user_config": BatchConfig().model_dump(),
}


@serve.deployment(name="EmotionModel", **DEPLOYMENT_DEFAULTS)
class EmotionModel(ModelReplica):
    def __init__(self, pipeline_settings: dict) -> None:
        self.batcher = HostBatcher(load_replica_host(pipeline_settings, embedding=False))


@serve.deployment(name="EmbeddingModel", **DEPLOYMENT_DEFAULTS)
class EmbeddingModel(ModelReplica):
    def __init__(self, pipeline_settings: dict) -> None:
        self.batcher = HostBatcher(load_replica_host(pipeline_settings, emotion=False))
