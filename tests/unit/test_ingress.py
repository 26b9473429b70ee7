"""``serve_app.ingress``: the environment ``moodwire serve`` gives Ray for HAProxy mode, and
the launcher that keeps HAProxy's stats and Prometheus listeners on loopback. No Ray."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from serve_app.ingress import IngressError, ingress_environment

HAPROXY_CONFIG = """global
    stats socket /tmp/x/admin.sock mode 666 level admin expose-fd listeners
defaults
    mode http
    errorfile 502 /tmp/x/500.http
    errorfile 503 /tmp/x/500.http
frontend prometheus
    bind :9101
    mode http
frontend http_frontend
    bind 127.0.0.1:8000
frontend public
    bind 0.0.0.0:8001
listen stats
  bind *:8404
  stats enable
"""


def test_proxy_mode_sets_nothing():
    before = dict(os.environ)
    with ingress_environment("proxy") as added:
        assert added == {}
        assert dict(os.environ) == before


def test_haproxy_mode_gives_each_run_its_own_ports_and_files_and_restores_the_environment():
    before = dict(os.environ)
    with ingress_environment("haproxy") as first, ingress_environment("haproxy") as second:
        assert os.environ["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
        assert first["RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD"] == "0"
        assert first["RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"] == "2"
        assert second == {}  # already set: the outer run's values are kept, not overwritten
        ports = {first["RAY_SERVE_HAPROXY_STATS_PORT"], first["RAY_SERVE_HAPROXY_METRICS_PORT"]}
        assert len(ports) == 2 and "8404" not in ports and "9101" not in ports
        folder = Path(first["RAY_SERVE_HAPROXY_CONFIG_FILE_LOC"]).parent
        assert folder.is_dir() and not str(folder).startswith("/tmp/haproxy-serve")
        # Ray puts a 56-character folder between these and the file; HAProxy's limit is 97.
        for name in ("RAY_SERVE_HAPROXY_SOCKET_PATH", "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH"):
            path = Path(first[name])
            assert len(str(path.parent)) + 1 + 56 + 1 + len(path.name) <= 97
        launcher = Path(first["RAY_SERVE_HAPROXY_BINARY_PATH"])
        assert launcher.parent == folder and os.access(launcher, os.X_OK)
        assert Path(first["MOODWIRE_HAPROXY_BINARY"]).is_file()
    assert dict(os.environ) == before
    assert not folder.exists()


def test_an_operators_own_setting_wins(monkeypatch):
    monkeypatch.setenv("RAY_SERVE_HAPROXY_STATS_PORT", "18404")
    with ingress_environment("haproxy") as added:
        assert "RAY_SERVE_HAPROXY_STATS_PORT" not in added
        assert os.environ["RAY_SERVE_HAPROXY_STATS_PORT"] == "18404"
    assert os.environ["RAY_SERVE_HAPROXY_STATS_PORT"] == "18404"


def test_the_launcher_binds_stats_and_prometheus_to_loopback_and_runs_haproxy(tmp_path):
    config = tmp_path / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG, encoding="utf-8")
    fake = tmp_path / "fake-haproxy"
    fake.write_text('#!/bin/sh\necho "ran with: $*"\n', encoding="utf-8")
    fake.chmod(0o755)
    with ingress_environment("haproxy") as added:
        launcher_folder = Path(added["RAY_SERVE_HAPROXY_BINARY_PATH"]).parent
        env = {**os.environ, "MOODWIRE_HAPROXY_BINARY": str(fake)}
        done = subprocess.run(
            [added["RAY_SERVE_HAPROXY_BINARY_PATH"], "-db", "-f", str(config), "-sf", "123"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    assert done.stdout.strip() == f"ran with: -db -f {config} -sf 123"
    binds = [line.strip() for line in config.read_text(encoding="utf-8").splitlines() if "bind " in line]
    assert binds == ["bind 127.0.0.1:9101", "bind 127.0.0.1:8000", "bind 0.0.0.0:8001", "bind 127.0.0.1:8404"]
    pages = [line.split() for line in config.read_text(encoding="utf-8").splitlines() if "errorfile" in line]
    assert [code for _, code, _ in pages] == ["400", "408", "502", "503", "504"]
    assert all(Path(page).parent == launcher_folder / "errors" for _, _, page in pages)


def test_haproxys_own_errors_answer_in_the_api_shape_and_restarts_say_retry():
    import json

    from serve_app.ingress import haproxy_error_page

    head, body = haproxy_error_page(502).decode().split("\r\n\r\n")
    lines = head.split("\r\n")
    assert lines[0] == "HTTP/1.1 503 Service Unavailable" and "Retry-After: 1" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert json.loads(body)["error"]["type"] == "service_unavailable"
    head, body = haproxy_error_page(400).decode().split("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400 ") and "Retry-After" not in head
    assert set(json.loads(body)["error"]) == {"message", "type", "param", "code"}


def test_an_unknown_ingress_is_refused_by_name():
    refused = pytest.raises(IngressError, match="unknown ingress 'nginx': choose one of haproxy, proxy")
    with refused, ingress_environment("nginx"):
        pass


def test_a_haproxy_binary_that_is_not_there_is_named_before_ray_starts(monkeypatch, tmp_path):
    from serve_app.ingress import haproxy_binary

    missing = tmp_path / "no-haproxy"
    monkeypatch.setenv("RAY_SERVE_HAPROXY_BINARY_PATH", str(missing))
    with pytest.raises(IngressError, match=f"RAY_SERVE_HAPROXY_BINARY_PATH='{missing}' is not an executable file"):
        haproxy_binary()


def test_a_haproxy_left_behind_is_stopped_when_the_run_ends(tmp_path):
    from serve_app.ingress import stop_haproxy_of

    folder = tmp_path / "mw-hap-run"
    folder.mkdir()
    # Stands in for an HAProxy started by a late reload: its command line names the folder.
    straggler = subprocess.Popen(["sh", "-c", "sleep 60", str(folder / "haproxy.cfg")])
    bystander = subprocess.Popen(["sh", "-c", "sleep 60", str(tmp_path / "other.cfg")])
    try:
        assert stop_haproxy_of(folder) == [straggler.pid]
        assert straggler.wait(timeout=5) is not None
        assert bystander.poll() is None
    finally:
        for process in (straggler, bystander):
            process.kill()
            process.wait()
