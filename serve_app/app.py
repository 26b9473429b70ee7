"""``build_app``: the typed app builder behind ``configs/serve.yaml`` and ``moodwire serve``."""

from pathlib import Path

from ray.serve import Application

from serve_app.config import ServeAppArgs


def _absolute(path: Path | None) -> str | None:
    return str(path.resolve()) if path is not None else None


def build_app(args: ServeAppArgs) -> Application:
    """The typed app builder named by ``configs/serve.yaml`` (``serve run``/``serve deploy``).

    Serve validates the config's ``args`` into ``ServeAppArgs`` and applies the file's
    per-deployment options itself.
    """
    return compose_app(args)


def compose_app(
    args: dict | ServeAppArgs | None = None,
    deployment_options: dict[str, dict] | None = None,
    source: str = "the serve config",
) -> Application:
    """Compose Gateway -> (EmotionModel, EmbeddingModel, Aggregator, AlertWatcher), or with
    ``model_layout: colocated``, Gateway (models inside) -> (Aggregator, AlertWatcher). The
    AlertWatcher reaches the database through the Aggregator; the Gateway holds its handle so
    Serve deploys it with the app.

    Paths and the database URL are resolved here, in the process that builds the app, so
    replicas started elsewhere (other working directories, other nodes) see the same files.
    ``serve run``/``serve deploy`` apply the config file's per-deployment options
    themselves; ``moodwire serve`` passes them as ``deployment_options``, and a value Serve
    refuses is a ``ConfigError`` naming ``source`` (the file), the deployment and the key.
    """
    from pydantic import ValidationError

    from inference.config_files import ConfigError, describe_validation_error
    from inference.settings import load_pipeline_settings
    from serve_app.deployments.aggregator import Aggregator
    from serve_app.deployments.alerts import AlertWatcher
    from serve_app.deployments.models import EmbeddingModel, EmotionModel
    from serve_app.gateway import Gateway
    from storage.settings import database_url

    parsed = args if isinstance(args, ServeAppArgs) else ServeAppArgs.model_validate(args or {})
    parsed = parsed.model_copy(
        update={
            "pipeline_config": Path(_absolute(parsed.pipeline_config)) if parsed.pipeline_config else None,
            "storage_config": Path(_absolute(parsed.storage_config)) if parsed.storage_config else None,
            "alerts_config": Path(_absolute(parsed.alerts_config)) if parsed.alerts_config else None,
            "database_url": database_url(parsed.database_url),
        }
    )
    options = deployment_options or {}
    unknown = set(options) - {"EmotionModel", "EmbeddingModel", "Aggregator", "AlertWatcher", "Gateway"}
    if unknown:
        raise ValueError(f"no such deployment(s): {sorted(unknown)}")

    def configured(deployment):
        if deployment.name not in options:
            return deployment
        try:
            return deployment.options(**options[deployment.name])
        except ValueError as exc:  # pydantic's ValidationError is one
            where = f"{source}: deployment '{deployment.name}'"
            problem = describe_validation_error(where, exc) if isinstance(exc, ValidationError) else f"{where}: {exc}"
            raise ConfigError(problem) from None

    aggregator = configured(Aggregator).bind(
        parsed.database_url, _absolute(parsed.storage_config), _absolute(parsed.pipeline_config)
    )
    watcher = configured(AlertWatcher).bind(aggregator, _absolute(parsed.alerts_config))
    if parsed.model_layout == "colocated":
        misplaced = set(options) & {"EmotionModel", "EmbeddingModel"}
        if misplaced:
            raise ValueError(f"model_layout colocated runs the models inside Gateway: drop {sorted(misplaced)}")
        return configured(Gateway).bind(None, None, aggregator, parsed.model_dump(mode="json"), watcher)
    pipeline = load_pipeline_settings(parsed.pipeline_config).model_dump(mode="json")
    emotion = configured(EmotionModel).bind(pipeline)
    embedding = configured(EmbeddingModel).bind(pipeline)
    return configured(Gateway).bind(emotion, embedding, aggregator, parsed.model_dump(mode="json"), watcher)
