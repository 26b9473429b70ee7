"""`moodwire serve` starts a local Ray with the embedded defaults and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_then_stops_on_sigterm_leaving_no_ray_processes(tmp_path):
    port = free_port()
    tag = f"moodwire-serve-{os.getpid()}-{port}"
    env = {
        **os.environ,
        "MOODWIRE_DATA_DIR": str(tmp_path / "data"),  # embedded SQLite, migrated on first use
        "MOODWIRE_TEST_TAG": tag,
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("MOODWIRE_API_KEY", None)
    env.pop("RAY_ADDRESS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "moodwire", "serve", "--port", str(port), "--num-cpus", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 300
        ready = False
        while time.time() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=60).status_code == 200:
                    ready = True
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        assert ready, process.stdout.read() if process.poll() is not None else "not ready in time"
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/classify",
            json={"items": [{"text": "Polls open at 7am, go vote", "external_id": "e1"}], "persist": True},
            timeout=60,
        )
        assert response.status_code == 200
        assert response.json()["results"][0]["topics"][0]["key"] == "elections"
        assert (tmp_path / "data" / "moodwire.db").is_file()

        tagged = [p for p in psutil.process_iter() if _tagged(p, tag)]
        assert tagged, "expected Ray processes carrying the test's tag while serving"
        # The default ingress: HAProxy answers on the port, and every socket it listens on
        # (frontend, stats, Prometheus) is on loopback.
        haproxy = [p for p in tagged if p.name() == "haproxy"]
        assert haproxy, "expected HAProxy in front of the Gateway replicas"
        listening = {c.laddr for p in haproxy for c in p.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        assert ("127.0.0.1", port) in listening
        assert len(listening) >= 3 and all(address.ip == "127.0.0.1" for address in listening), listening
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
        deadline = time.time() + 60
        while time.time() < deadline and any(_tagged(p, tag) for p in psutil.process_iter()):
            time.sleep(1)
        assert not [p for p in psutil.process_iter() if _tagged(p, tag)]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _tagged(proc: psutil.Process, tag: str) -> bool:
    try:
        return proc.pid != os.getpid() and proc.environ().get("MOODWIRE_TEST_TAG") == tag
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
