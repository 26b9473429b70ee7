"""Run the Serve app on a local Ray for ``moodwire serve`` (and the tests).

A Serve config file (``configs/serve.yaml``) provides the app's ``args`` and per-deployment
options (replicas, CPUs/GPUs, queue bounds, ``user_config``) exactly as ``serve run`` or
``serve deploy`` would apply them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from inference.config_files import ConfigError, read_yaml_mapping

if TYPE_CHECKING:
    from serve_app.config import ServeAppArgs

DEPLOYMENT_OPTIONS = {
    "num_replicas",
    "max_ongoing_requests",
    "max_queued_requests",
    "user_config",
    "autoscaling_config",
    "ray_actor_options",
    "graceful_shutdown_timeout_s",
    "health_check_period_s",
    "health_check_timeout_s",
    "logging_config",
}


def read_serve_config(path: Path) -> tuple[dict, dict[str, dict]]:
    """``(app args, {deployment name: options})`` of the first application.

    The file's ``http_options`` are for ``serve run``/``serve deploy``; ``moodwire serve``
    takes host and port from its own flags.
    """
    config = read_yaml_mapping(path)
    apps = config.get("applications")
    if not isinstance(apps, list) or not apps or not isinstance(apps[0], dict):
        raise ConfigError(f"{path}: 'applications' must list one application")
    app = apps[0]
    if app.get("import_path") != "serve_app.app:build_app":
        raise ConfigError(f"{path}: applications[0].import_path must be 'serve_app.app:build_app'")
    overrides: dict[str, dict] = {}
    for index, deployment in enumerate(app.get("deployments") or []):
        name = deployment.get("name") if isinstance(deployment, dict) else None
        if not name:
            raise ConfigError(f"{path}: applications[0].deployments[{index}] needs a 'name'")
        unknown = set(deployment) - DEPLOYMENT_OPTIONS - {"name"}
        if unknown:
            raise ConfigError(f"{path}: deployment '{name}': unknown key(s) {sorted(unknown)}")
        overrides[name] = {k: v for k, v in deployment.items() if k != "name"}
    return dict(app.get("args") or {}), overrides


__all__ = ["read_serve_config", "run_local"]


def validated_args(args: dict, config: Path | None) -> ServeAppArgs:
    """The app's ``args`` as ``ServeAppArgs``, or a ``ConfigError`` naming the file and key
    (``configs/serve.yaml: applications[0].args: 'shutdown_grace_s': ...``), before Ray starts."""
    from pydantic import ValidationError

    from inference.config_files import describe_validation_error
    from serve_app.config import ServeAppArgs

    try:
        return ServeAppArgs.model_validate(args)
    except ValidationError as exc:
        where = f"{config or 'the default serve config'}: applications[0].args"
        raise ConfigError(describe_validation_error(where, exc)) from None


def check_pipeline(pipeline_config: Path | None) -> None:
    """``sentiment.method: head`` needs an emotion checkpoint with a sentiment head: say so
    now (a ``ConfigError``, exit 2), read from the checkpoint's config alone, rather than in
    every request once Ray has started. Fake models (``source: fake``) get one warning line."""
    import sys

    from inference.fake_models import fake_models_warning
    from inference.loading import classifier_labels_and_version
    from inference.sentiment import sentiment_scorer
    from inference.settings import load_pipeline_settings

    settings = load_pipeline_settings(pipeline_config)
    labels, _ = classifier_labels_and_version(settings.emotion.source)
    sentiment_scorer(settings.sentiment, labels)
    warning = fake_models_warning(settings)
    if warning:
        print(warning, file=sys.stderr)


def check_alerts(alerts_config: Path | None) -> None:
    """The alerts file and the environment variables it names, before Ray starts (a
    ``ConfigError`` naming file, key and variable)."""
    from alerting import load_alert_settings, target_urls

    target_urls(load_alert_settings(alerts_config), alerts_config or "configs/alerts.yaml")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (``--host``) accepts connections from this machine only."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def warn_if_open(host: str) -> None:
    """Without ``MOODWIRE_API_KEY`` every route, writes and deletes included, is open to
    whoever reaches the port: harmless on loopback, worth a warning anywhere else."""
    import os
    import sys

    from serve_app.middleware import API_KEY_ENV

    if not os.environ.get(API_KEY_ENV) and not is_loopback(host):
        print(
            f"moodwire: warning: {API_KEY_ENV} is not set and --host {host} is not loopback: "
            "anyone who can reach this port can read, write and delete mentions",
            file=sys.stderr,
        )


def finish_requests_in_flight(ingress: str, grace_s: float) -> None:
    """On SIGTERM: refuse new connections and let the requests in flight finish (up to
    ``grace_s``) with every deployment still up, so a persisted request that is answered
    200 has been stored. Serve's own shutdown, after, stops replicas that are idle."""
    import os
    import sys
    import time

    from serve_app.ingress import drain_haproxy

    if ingress != "haproxy":  # Serve's proxy: its replicas' graceful_shutdown_timeout_s applies
        print("moodwire: stopping", file=sys.stderr)
        return
    print(f"moodwire: stopping: new requests refused; up to {grace_s:g} s for those in flight", file=sys.stderr)
    started = time.monotonic()
    folder = Path(os.environ["RAY_SERVE_HAPROXY_CONFIG_FILE_LOC"]).parent
    if drain_haproxy(folder, grace_s):
        print(f"moodwire: requests in flight finished in {time.monotonic() - started:.1f} s", file=sys.stderr)
    else:
        print(f"moodwire: requests still in flight after {grace_s:g} s are cut", file=sys.stderr)


def run_local(
    config: Path | None, *, host: str, port: int, num_cpus: int | None = None, ingress: str = "haproxy"
) -> None:
    """Start a local Ray with ``ingress`` in front (``serve_app.ingress``), serve until
    SIGINT/SIGTERM, then shut Serve and Ray down."""
    import os
    import signal
    import sys
    import threading

    import ray
    from ray import serve

    from serve_app.app import compose_app
    from serve_app.ingress import ingress_environment
    from storage.factory import ready_engine

    args, options = read_serve_config(config) if config is not None else ({}, {})
    serve_args = validated_args(args, config)
    application = compose_app(serve_args, options, source=str(config or "the default serve config"))
    # The database too: a bad URL, an unreachable server or an unmigrated schema is one line
    # and an exit code now, not a deployment failing inside Ray minutes later.
    ready_engine(serve_args.database_url).dispose()
    check_pipeline(serve_args.pipeline_config)
    check_alerts(serve_args.alerts_config)
    warn_if_open(host)
    stop = threading.Event()
    # A 2-core machine starting a dozen Ray processes needs more than Serve's 5 s default
    # for the HTTP proxy's first readiness check; the environment reaches Ray's processes.
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
    # Serve's controller reconciles every 0.1 s by default: 4.7 % of a core on this 2-core
    # machine under load, 2.1 % at 0.5 s (docs/PERFORMANCE.md). A dead replica is noticed
    # by its health check either way; replacing it starts at most 0.4 s later.
    os.environ.setdefault("RAY_SERVE_CONTROL_LOOP_INTERVAL_S", "0.5")
    with ingress_environment(ingress):
        ray.init(num_cpus=num_cpus, namespace="moodwire", log_to_driver=False, _node_ip_address="127.0.0.1")
        # After ray.init: Ray installs its own fatal-signal handler for SIGTERM, which would abort.
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            serve.start(http_options={"host": host, "port": port}, proxy_location="HeadOnly")
            serve.run(application, name="moodwire", route_prefix="/")
            where = f"http://{host}:{port}"
            print(
                f"moodwire: serving on {where} (the page at /, API docs at /docs; ingress: {ingress}); Ctrl-C stops",
                file=sys.stderr,
            )
            while not stop.wait(0.5):
                pass
            finish_requests_in_flight(ingress, serve_args.shutdown_grace_s)
        finally:
            try:
                serve.shutdown()
            finally:
                ray.shutdown()
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
