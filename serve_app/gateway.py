"""Gateway: the FastAPI ingress of the Serve app. The app is assembled here: the error table
(``serve_app.errors``), the middleware (``serve_app.middleware``) and the routes
(``serve_app.routes``); the deployment class holds what a replica's routes use: settings,
the models client with the result cache (``OnlineClassifier``), the Aggregator's handle and
metrics. Every failure is a domain error that ``serve_app.errors`` turns into a status.
"""

import os

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app.config import ColocatedBatchConfig, ServeAppArgs
from serve_app.errors import install_error_handlers
from serve_app.middleware import API_KEY_ENV, install_middleware, retry_after_s
from serve_app.model_clients import ColocatedModels, ModelClient, RemoteModels
from serve_app.online import OnlineClassifier
from serve_app.routes import include_routes
from serve_app.routes.ops import Readiness

app = FastAPI(title="moodwire", version="0.1.0", description="Emotion, sentiment and topics for text mentions.")
install_error_handlers(app, lambda: retry_after_s(app))
install_middleware(app)
include_routes(app)


def served_app() -> FastAPI:
    """The app a Gateway replica serves: this module's own ``app``, looked up in the replica.

    Why a builder: given ``app`` itself, ``serve.ingress`` freezes a copy of it at import time,
    and the state a replica sets on the module's ``app`` (``app.state.gateway``, which the
    routes and the middleware read) would not be the served copy's."""
    return app


@serve.deployment(name="Gateway", ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=128)
@serve.ingress(served_app)
class Gateway:
    def __init__(
        self,
        emotion: DeploymentHandle | None,
        embedding: DeploymentHandle | None,
        aggregator: DeploymentHandle,
        args: dict,
        alert_watcher: DeploymentHandle | None = None,
    ) -> None:
        """``emotion``/``embedding`` are the model deployments, ``None`` when colocated;
        ``alert_watcher`` is held so Serve deploys the watcher with the app."""
        from inference.settings import load_pipeline_settings
        from serve_app.metrics import GatewayMetrics
        from serve_app.result_cache import build_result_cache
        from storage.records import RecordRules
        from storage.settings import load_storage_settings

        self.args = ServeAppArgs.model_validate(args)
        self.pipeline_settings = load_pipeline_settings(self.args.pipeline_config)
        self.rules = RecordRules.from_settings(
            load_storage_settings(self.args.storage_config), max_text_chars=self.pipeline_settings.max_text_chars
        )
        if self.args.model_layout == "colocated":
            from serve_app.batcher import HostBatcher
            from serve_app.deployments.models import load_replica_host

            host = load_replica_host(self.pipeline_settings.model_dump(mode="json"))
            self.models: ModelClient = ColocatedModels(HostBatcher(host, ColocatedBatchConfig()))
        else:
            assert emotion is not None and embedding is not None, "the deployments layout passes both handles"
            self.models = RemoteModels(emotion, embedding)
        self.aggregator = aggregator
        self.alert_watcher = alert_watcher
        self.api_key = os.environ.get(API_KEY_ENV) or None
        self.metrics = GatewayMetrics()
        cache = build_result_cache(
            self.args.result_cache,
            capacity=self.args.cache_size,
            redis_url=self.args.redis_url,
            ttl_s=self.args.cache_ttl_s,
            on_skip=lambda count: self.metrics.cache_skipped.inc(count),
        )
        self.online = OnlineClassifier(self.models, cache, self.pipeline_settings, self.metrics)
        self.readiness = Readiness()
        served_app().state.gateway = self

    def reconfigure(self, user_config: dict | None) -> None:
        """``user_config``: the colocated models' batching, applied without a restart."""
        if not isinstance(self.models, ColocatedModels):
            raise ValueError(
                "Gateway user_config sets the colocated models' batching; with model_layout "
                "'deployments' set user_config on EmotionModel and EmbeddingModel"
            )
        self.models.batcher.configure(ColocatedBatchConfig.model_validate(user_config or {}))

    def batch_settings(self) -> dict:
        """The colocated batcher's live values, and which process answered."""
        if not isinstance(self.models, ColocatedModels):
            return {"pid": os.getpid(), "model_layout": "deployments"}
        return {"pid": os.getpid(), **self.models.batcher.batch_settings()}
