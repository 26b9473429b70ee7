"""`moodwire serve` starts a local Ray with the embedded defaults and, on SIGTERM under load,
refuses new requests, finishes those in flight, stores every one it answered 200, exits 0
within 30 s and leaves no Ray process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

import httpx
import psutil

from serve_app.ingress import free_port


def test_sigterm_under_load_finishes_requests_in_flight_stores_them_and_leaves_no_ray_processes(tmp_path):
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

        outcomes: list[tuple[float, float, object, list[str]]] = []
        stopping = threading.Event()

        base = f"http://127.0.0.1:{port}"

        def client() -> None:  # persisted requests of new texts (no cache hits), back to back
            with httpx.Client(timeout=60) as http:
                while True:
                    ids = [uuid.uuid4().hex for _ in range(24)]
                    items = [{"text": f"Taxes are up again, {i} says: {i[:8]}", "external_id": i} for i in ids]
                    sent = time.monotonic()
                    try:
                        answer = httpx.Response(0)
                        answer = http.post(f"{base}/v1/classify", json={"items": items, "persist": True})
                        status: object = answer.status_code
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    outcomes.append((sent, time.monotonic(), status, ids if status == 200 else []))
                    if stopping.is_set() and status != 200:
                        return
                    if status == 503:
                        assert answer.headers.get("Retry-After")

        clients = [threading.Thread(target=client) for _ in range(8)]
        for thread in clients:
            thread.start()
        time.sleep(4)
        signalled = time.monotonic()
        stopping.set()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
        stopped_after = time.monotonic() - signalled
        for thread in clients:
            thread.join(timeout=60)
        output = process.stdout.read()
        assert stopped_after < 30, output
        in_flight = [o for o in outcomes if o[0] < signalled < o[1]]
        assert in_flight and all(o[2] == 200 for o in in_flight), (in_flight, output)
        assert "requests in flight finished" in output
        # Afterwards: refused (connection) or 503 with Retry-After, never an answer cut short.
        late = [o[2] for o in outcomes if o[0] > signalled]
        assert set(late) <= {"ConnectError", 503}, late
        answered = [i for o in outcomes for i in o[3]]
        with sqlite3.connect(tmp_path / "data" / "moodwire.db") as db:
            stored = dict(db.execute("SELECT external_id, COUNT(*) FROM mentions GROUP BY external_id"))
        assert all(stored.get(i) == 1 for i in answered), "every mention answered 200 is stored once"
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
