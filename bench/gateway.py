"""Throughput and latency of the meshkit gateway against nginx and HAProxy, with wrk.

All on loopback, in one run: ``direct`` (wrk → an nginx upstream answering ``hello world``),
``nginx`` (nginx as a reverse proxy: 1 worker, upstream keep-alive), ``haproxy`` (1 thread,
``http-reuse always``), and ``meshkit`` (one gateway process routing to a service of two
endpoints of that same upstream, with P2C peak-EWMA balancing, endpoint breakers, retry,
outlier detection, a never-reached rate limit and metrics on). wrk runs one thread at c=1
and c=64 for ``--seconds`` each; the peers get the same upstream. The configs follow
``shared/anchors`` (the figures our goals come from).

Needs Debian's nginx, haproxy and wrk: ``apt-get install -y nginx haproxy wrk``.
Run: ``.venv/bin/python bench/gateway.py``. The last line is JSON; required:
``ratio_vs_nginx`` (meshkit rps / nginx rps at c=64) >= 0.6 and ``p50_c1_vs_direct`` <= 1.6.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REQUIRED_RATIO = 0.6
REQUIRED_P50 = 1.6
PORTS = {"direct": 18180, "nginx": 18181, "haproxy": 18182, "meshkit": 18183}
ADMIN_PORT = 18184  # meshkit's /metrics: on, as in production

NGINX_CONF = """worker_processes 1;
daemon on;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off; keepalive_requests 100000000;
  upstream up {{ server 127.0.0.1:{direct}; keepalive 64; keepalive_requests 100000000; }}
  server {{ listen 127.0.0.1:{direct} backlog=4096; location / {{ return 200 "hello world\\n"; }} }}
  server {{ listen 127.0.0.1:{nginx} backlog=4096;
    location / {{ proxy_pass http://up; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }} }}
}}
"""

HAPROXY_CFG = """global
  nbthread 1
  maxconn 5000
  daemon
  pidfile {tmp}/haproxy.pid
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:{haproxy}
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:{direct}
"""

MESHKIT_YAML = """listen: {{host: 127.0.0.1, port: {meshkit}}}
admin: {{host: 127.0.0.1, port: {admin}}}
services:
  - name: hello
    policy: {{algorithm: p2c_ewma, max_attempts: 2, breaker: true}}
    instances:
      - {{id: hello-1, host: 127.0.0.1, port: {direct}}}
      - {{id: hello-2, host: 127.0.0.1, port: {direct}}}
routes:
  - name: hello
    match: {{prefix: /}}
    service: hello
    rate_limit: {{rate: 100000000/second, key: route}}
"""


def wrk(port: int, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_us": _micros(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99_us": _micros(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def _micros(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1, "ms": 1_000, "s": 1_000_000}[unit]


def wait_port(port: int, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    missing = [tool for tool in ("nginx", "haproxy", "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"missing: {', '.join(missing)}; install with: apt-get install -y nginx haproxy wrk")
        return 2
    from meshkit._build import data_path_compiled

    build = "compiled" if data_path_compiled() else "pure"
    if build == "pure":
        print("meshkit's data path is not compiled: run `make bench` (or make unit) first")
    tmp = Path(tempfile.mkdtemp(prefix="meshkit-bench-"))
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, **PORTS))
    (tmp / "haproxy.cfg").write_text(HAPROXY_CFG.format(tmp=tmp, **PORTS))
    (tmp / "mesh.yaml").write_text(MESHKIT_YAML.format(admin=ADMIN_PORT, **PORTS))
    meshkit = None
    try:
        subprocess.run(["nginx", "-c", str(tmp / "nginx.conf")], check=True)
        subprocess.run(["haproxy", "-f", str(tmp / "haproxy.cfg")], check=True)
        meshkit_bin = Path(sys.executable).with_name("meshkit")
        meshkit = subprocess.Popen(
            [str(meshkit_bin), "run", str(tmp / "mesh.yaml")], stdout=subprocess.DEVNULL
        )
        for port in PORTS.values():
            wait_port(port)
        results: dict[str, dict[str, dict[str, float]]] = {}
        for name, port in PORTS.items():
            wrk(port, 16, 1)  # warm up connections and caches
            results[name] = {"c1": wrk(port, 1, args.seconds), "c64": wrk(port, 64, args.seconds)}
    finally:
        if meshkit is not None:
            meshkit.send_signal(signal.SIGTERM)
            meshkit.wait(10)
        subprocess.run(["nginx", "-c", str(tmp / "nginx.conf"), "-s", "quit"], check=False)
        pid_file = tmp / "haproxy.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
    print(f"{'target':<10}{'rps c=64':>12}{'p50 c=1':>10}{'p99 c=64':>11}{'non-2xx':>9}")
    summary = {}
    for name, r in results.items():
        print(
            f"{name:<10}{r['c64']['rps']:>12,.0f}{r['c1']['p50_us']:>8.0f}us"
            f"{r['c64']['p99_us']:>9.0f}us{r['c64']['non_2xx'] + r['c1']['non_2xx']:>9.0f}"
        )
        summary[name] = {
            "rps_c64": round(r["c64"]["rps"]),
            "p50_c1_us": round(r["c1"]["p50_us"], 1),
            "p99_c64_us": round(r["c64"]["p99_us"], 1),
        }
    ratio = results["meshkit"]["c64"]["rps"] / results["nginx"]["c64"]["rps"]
    p50 = results["meshkit"]["c1"]["p50_us"] / results["direct"]["c1"]["p50_us"]
    ok = ratio >= REQUIRED_RATIO and p50 <= REQUIRED_P50
    print(f"meshkit / nginx rps = {ratio:.2f}; meshkit p50 c=1 / direct = {p50:.2f}")
    print("meets the requirements" if ok else "MISSES the requirements")
    print(
        json.dumps(
            {
                **summary,
                "ratio_vs_nginx": round(ratio, 3),
                "p50_c1_vs_direct": round(p50, 3),
                "meshkit_build": build,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
