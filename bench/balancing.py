"""µs per pick of every balancing algorithm at 10, 1,000 and 10,000 endpoints, and the share
of keys that ring hash and Maglev move when 1 of 100 endpoints leaves.

Picks go through ``LoadBalancer.pick`` (the path a request takes), with a random key per pick
for the hashing algorithms. The endpoints carry latency samples and in-flight counts so that
least-request and peak-EWMA compare real numbers. The median of the rounds counts.

Run: ``.venv/bin/python bench/balancing.py [--picks N] [--rounds R]``. The last line is JSON.
Required: every algorithm's pick at 10,000 endpoints within 3x its pick at 10; moved <= 3 %.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from meshkit.balancing import ALGORITHMS, BalancerOptions, Endpoint, LoadBalancer

SIZES = (10, 1_000, 10_000)
REQUIRED_GROWTH = 3.0
REQUIRED_MOVED_PCT = 3.0
HASHING = {"ring_hash", "maglev"}


def build(algorithm: str, size: int, rng: random.Random) -> LoadBalancer:
    balancer = LoadBalancer(BalancerOptions(algorithm=algorithm), rng=random.Random(1))  # type: ignore[arg-type]
    endpoints = []
    for i in range(size):
        endpoint = Endpoint(f"10.0.{i // 250}.{i % 250}:8080", weight=rng.choice((50, 100, 200)))
        endpoint.ewma = rng.uniform(0.002, 0.02)
        endpoint.in_flight = rng.randrange(4)
        endpoints.append(endpoint)
    balancer.set_endpoints(endpoints)
    return balancer


def pick_us(balancer: LoadBalancer, keys: list[bytes] | None, picks: int) -> float:
    pick = balancer.pick
    if keys is None:
        start = time.perf_counter()
        for _ in range(picks):
            pick()
    else:
        start = time.perf_counter()
        for key in keys:
            pick(key)
    return (time.perf_counter() - start) / picks * 1e6


def moved_pct(algorithm: str, keys: list[bytes]) -> float:
    endpoints = [f"node-{i}" for i in range(100)]
    before = LoadBalancer(BalancerOptions(algorithm=algorithm))  # type: ignore[arg-type]
    before.set_endpoints(Endpoint(e) for e in endpoints)
    after = LoadBalancer(BalancerOptions(algorithm=algorithm))  # type: ignore[arg-type]
    after.set_endpoints(Endpoint(e) for e in endpoints if e != "node-42")
    moved = sum(before.pick(k).id != after.pick(k).id for k in keys)
    return 100.0 * moved / len(keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(7)
    keys = [rng.randbytes(12) for _ in range(args.picks)]
    result: dict[str, dict[int, float]] = {}
    for algorithm in ALGORITHMS:
        result[algorithm] = {}
        for size in SIZES:
            balancer = build(algorithm, size, rng)
            algorithm_keys = keys if algorithm in HASHING else None
            pick_us(balancer, algorithm_keys, min(args.picks, 5_000))  # warm up
            samples = [pick_us(balancer, algorithm_keys, args.picks) for _ in range(args.rounds)]
            result[algorithm][size] = round(statistics.median(samples), 3)
    moved = {
        "ring": round(moved_pct("ring_hash", keys), 2),
        "maglev": round(moved_pct("maglev", keys), 2),
    }
    print(f"{'algorithm':<22}" + "".join(f"{size:>10}" for size in SIZES) + "   growth")
    worst = 0.0
    for algorithm, picks in result.items():
        growth = picks[SIZES[-1]] / picks[SIZES[0]]
        worst = max(worst, growth)
        row = "".join(f"{picks[size]:>10.3f}" for size in SIZES)
        print(f"{algorithm:<22}{row}   {growth:.2f}x")
    print(f"keys moved when 1 of 100 leaves: ring {moved['ring']}%, maglev {moved['maglev']}%")
    ok = worst <= REQUIRED_GROWTH and max(moved.values()) <= REQUIRED_MOVED_PCT
    print("meets the requirements" if ok else "MISSES the requirements")
    print(
        json.dumps(
            {
                "pick_us": result,
                "moved_pct": moved,
                "worst_growth_10k_vs_10": round(worst, 2),
                "picks": args.picks,
                "rounds": args.rounds,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
