"""`meshkit validate` and `meshkit run` refuse the same files with the same report: every
rejected case goes through both real commands, which must exit 2 naming the place, and never
show a traceback or start listening."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

MESHKIT = Path(sys.executable).with_name("meshkit")

SERVICES = """services:
  - name: orders
    instances: [{id: o1, host: 127.0.0.1, port: 9101}]
"""
GOOD = SERVICES + "routes:\n  - {name: api, match: {prefix: /}, service: orders}\n"

# (what the file holds, what the report must say about it)
REJECTED: dict[str, tuple[str | bytes, str]] = {
    "misspelt key": (
        GOOD + "servces: []\n",
        '6:1: servces: unknown key "servces"; did you mean "services"?',
    ),
    "unknown service": (
        SERVICES + "routes: [{name: api, service: ordrs}]\n",
        '4:22: routes[0].service: unknown service "ordrs"; did you mean "orders"?',
    ),
    "route without a name": (
        SERVICES + "routes: [{service: orders}]\n",
        "4:10: routes[0].name: is required here",
    ),
    "two routes with one name": (
        GOOD + "  - {name: api, service: orders}\n",
        '6:6: routes[1].name: route name "api" is already used by routes[0]',
    ),
    "two services with one name": (
        GOOD.replace("services:\n", "services:\n  - {name: orders}\n"),
        '3:5: services[1].name: service name "orders" is already used by services[0]',
    ),
    "a second services block": (
        GOOD + "services: []\n",
        "6:1: services: duplicate key, already set on line 1",
    ),
    "bytes that are not UTF-8": (
        GOOD.encode().replace(b"/", b"/caf\xe9"),
        "5:37: not valid UTF-8 (byte 0xe9)",
    ),
    "a control character": (GOOD + "x: \x01\n", "6:4: control character U+0001"),
    "an empty file": ("", "1:1: the file is empty"),
    "only comments": ("# to do\n", "1:1: the file is empty"),
    "not a mapping": ("- orders\n", "1:1: the top level must be a mapping"),
    "broken YAML": (GOOD + "listen: {port: 80\n", "7:1: not valid YAML"),
    "a duration without a known unit": (
        GOOD + "limits: {idle_timeout: 2 weeks}\n",
        "6:10: limits.idle_timeout: must be a number of seconds, or a number with a unit",
    ),
    "a value not in the list": (
        GOOD.replace("name: orders\n", "name: orders\n    policy: {algorithm: fastest}\n"),
        "3:14: services[0].policy.algorithm: must be one of: round_robin,",
    ),
    "a mapping where a list is due": (
        GOOD + "trusted_proxies: {a: 1}\n",
        "6:1: trusted_proxies: must be a list",
    ),
    "a port out of range": (GOOD + "listen: {port: 70000}\n", "6:10: listen.port: must be"),
    # Refused only when `run` built the gateway (with a traceback) while `validate` said valid:
    "a host the registry refuses": (
        GOOD.replace("host: 127.0.0.1", "host: 'bad host!'"),
        "3:26: services[0].instances[0].host: 'bad host!' is neither an IP address nor a valid "
        "host name",
    ),
    "a burst for a window algorithm": (
        GOOD.replace(
            "service: orders}",
            "service: orders, rate_limit: {rate: 1/s, burst: 2, algorithm: fixed_window}}",
        ),
        "5:54: routes[0].rate_limit: burst applies to token_bucket and gcra only",
    ),
    "a header name with a space": (
        GOOD.replace("service: orders}", "service: orders, request_headers: {add: {a b: c}}}"),
        "5:78: routes[0].request_headers.add.a b: a header name must be letters, digits",
    ),
}


async def refusal(command: str, path: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(MESHKIT), command, str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    except TimeoutError:  # a file that was accepted: `run` serves until stopped
        process.kill()
        await process.wait()
        return -1, "still running"
    return process.returncode or 0, (out + err).decode()


@pytest.mark.parametrize("case", sorted(REJECTED))
async def test_validate_and_run_refuse_the_same_files_naming_the_place(
    case: str, tmp_path: Path
) -> None:
    content, expected = REJECTED[case]
    path = tmp_path / "mesh.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    results = await asyncio.gather(refusal("validate", path), refusal("run", path))
    for code, output in results:
        assert code == 2, output
        assert f"{path}:{expected}" in output
        assert "Traceback" not in output
        assert "listening" not in output
    assert results[0] == results[1]  # the same report, word for word


async def test_the_good_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "mesh.yaml"
    path.write_text(GOOD)
    code, output = await refusal("validate", path)
    assert (code, output) == (
        0,
        f"{path}: valid (1 service, 1 route, listening on 127.0.0.1:8080)\n",
    )
