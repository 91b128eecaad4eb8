"""Throughput and latency of the meshkit gateway against nginx and HAProxy, with wrk.

All on loopback, in one run: ``direct`` (wrk → an nginx upstream answering ``hello world``),
``nginx`` (nginx as a reverse proxy: 1 worker, upstream keep-alive), ``haproxy`` (1 thread,
``http-reuse always``), and ``meshkit`` (one gateway process routing to a service of two
endpoints of that same upstream, with P2C peak-EWMA balancing, endpoint breakers, retry,
outlier detection, a never-reached rate limit, a request header edit and metrics on), and
``bare`` — the Python floor, ``bench/bare_forwarder.py``: uvloop + httptools forwarding bytes
with no feature at all. wrk runs one thread at c=1 and c=64 for ``--seconds`` each; every
target gets the same upstream. The targets take turns, in a rotated order, over ``--rounds``
rounds (this machine is noisy), and each figure is the median of its rounds. The configs
follow ``shared/anchors`` (the figures our goals come from).

Needs Debian's nginx, haproxy and wrk: ``apt-get install -y nginx haproxy wrk``.
Run: ``.venv/bin/python bench/gateway.py``. The last line is JSON. Keys: per target
``rps_c64``, ``p50_c1_us``, ``p99_c64_us``; ``ratio_vs_nginx`` and ``ratio_vs_bare`` (meshkit
rps over nginx's / the floor's at c=64), ``p50_c1_vs_direct``, ``p50_c1_added_vs_nginx`` and
``p50_c1_added_vs_bare`` (the latency meshkit adds to the direct p50 at c=1, over what nginx /
the floor add), ``p99_c64_vs_nginx``. Goals: ratio_vs_nginx >= 0.6, ratio_vs_bare >= 0.85,
p50_c1_added_vs_bare <= 1.3, p99_c64_vs_nginx <= 2.0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _loopback import wait_port

PORTS = {"direct": 18180, "nginx": 18181, "haproxy": 18182, "meshkit": 18183, "bare": 18185}
GOALS = {  # key: (bound, whether the figure must be at least it)
    "ratio_vs_nginx": (0.6, True),
    "ratio_vs_bare": (0.85, True),
    "p50_c1_added_vs_bare": (1.3, False),
    "p99_c64_vs_nginx": (2.0, False),
}
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
    request_headers: {{add: {{x-env: bench}}}}
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
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
    processes: list[subprocess.Popen[bytes]] = []
    rounds: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in PORTS}
    try:
        subprocess.run(["nginx", "-c", str(tmp / "nginx.conf")], check=True)
        subprocess.run(["haproxy", "-f", str(tmp / "haproxy.cfg")], check=True)
        meshkit_bin = Path(sys.executable).with_name("meshkit")
        processes.append(
            subprocess.Popen(
                [str(meshkit_bin), "run", str(tmp / "mesh.yaml")], stdout=subprocess.DEVNULL
            )
        )
        forwarder = Path(__file__).with_name("bare_forwarder.py")
        processes.append(
            subprocess.Popen(
                [sys.executable, str(forwarder), str(PORTS["bare"]), str(PORTS["direct"])]
            )
        )
        for port in PORTS.values():
            wait_port(port)
        names = list(PORTS)
        for port in PORTS.values():
            wrk(port, 16, 1)  # warm up connections and caches
        for turn in range(args.rounds):
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                port = PORTS[name]
                rounds[name].append(
                    {"c1": wrk(port, 1, args.seconds), "c64": wrk(port, 64, args.seconds)}
                )
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
        subprocess.run(["nginx", "-c", str(tmp / "nginx.conf"), "-s", "quit"], check=False)
        pid_file = tmp / "haproxy.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
    return report(rounds, build, args.rounds)


def report(rounds: dict[str, list[dict[str, dict[str, float]]]], build: str, count: int) -> int:
    """Medians per target, the ratios, a table, and the JSON line last."""

    def median(name: str, level: str, figure: str) -> float:
        return statistics.median(r[level][figure] for r in rounds[name])

    summary = {
        name: {
            "rps_c64": round(median(name, "c64", "rps")),
            "p50_c1_us": round(median(name, "c1", "p50_us"), 1),
            "p99_c64_us": round(median(name, "c64", "p99_us"), 1),
        }
        for name in rounds
    }
    print(f"{'target':<10}{'rps c=64':>12}{'p50 c=1':>10}{'p99 c=64':>11}   (medians of {count})")
    for name, figures in summary.items():
        print(
            f"{name:<10}{figures['rps_c64']:>12,}{figures['p50_c1_us']:>8.0f}us"
            f"{figures['p99_c64_us']:>9.0f}us"
        )
    mesh, nginx, bare, direct = (summary[n] for n in ("meshkit", "nginx", "bare", "direct"))

    def added(target: dict[str, float]) -> float:
        return max(target["p50_c1_us"] - direct["p50_c1_us"], 1.0)  # (never divide by 0)

    ratios = {
        "ratio_vs_nginx": round(mesh["rps_c64"] / nginx["rps_c64"], 3),
        "ratio_vs_bare": round(mesh["rps_c64"] / bare["rps_c64"], 3),
        "p50_c1_vs_direct": round(mesh["p50_c1_us"] / direct["p50_c1_us"], 3),
        "p50_c1_added_vs_nginx": round(added(mesh) / added(nginx), 3),
        "p50_c1_added_vs_bare": round(added(mesh) / added(bare), 3),
        "p99_c64_vs_nginx": round(mesh["p99_c64_us"] / nginx["p99_c64_us"], 3),
    }
    missed = [
        key
        for key, (bound, at_least) in GOALS.items()
        if (ratios[key] < bound if at_least else ratios[key] > bound)
    ]
    print(", ".join(f"{k} = {v}" for k, v in ratios.items()))
    print(f"misses: {', '.join(missed)}" if missed else "meets every goal")
    print(json.dumps({**summary, **ratios, "rounds": count, "meshkit_build": build}))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
