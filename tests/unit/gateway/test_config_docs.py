"""The configuration reference is generated, complete and current; every example is valid."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from meshkit.gateway import load_config
from meshkit.gateway.config_docs import MISSING, example_files, find_example, keys, reference

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = example_files(ROOT / "examples")
MESHKIT = Path(sys.executable).with_name("meshkit")


def loaded_examples() -> list[object]:
    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in EXAMPLES]


def test_the_reference_is_current() -> None:
    written = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert written == reference(loaded_examples()), "stale: run `make docs` and commit it"


def test_every_key_has_a_description() -> None:
    missing = [path for path, field in keys() if not (field.description or "").strip()]
    assert missing == [], "give these fields a docstring"


def test_every_key_has_an_example_in_examples() -> None:
    documents = loaded_examples()
    missing = [
        path
        for path, field in keys()
        if field.annotation is not None
        and find_example(documents, path) is MISSING
        and not _is_section(path)
    ]
    assert missing == [], "set these keys in an example (examples/full.yaml, say)"


def _is_section(path: str) -> bool:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    return f"## `{path}`" in text or f"## `{path}[]`" in text


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_valid(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # TLS paths are relative to the working directory
    config = load_config(example.relative_to(ROOT))
    assert config.routes


def test_the_schema_command_prints_a_json_schema_editors_can_use() -> None:
    result = subprocess.run(
        [str(MESHKIT), "config", "schema"], capture_output=True, text=True, timeout=60, check=True
    )
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) >= {"listen", "services", "routes", "reload"}
    route = schema["$defs"]["RouteConfig"]
    assert route["required"] == ["name"]
    assert route["properties"]["name"]["description"].startswith("Unique name of the route")
    timeout, null = route["properties"]["timeout"]["anyOf"]  # 2, or "2s", or nothing
    assert null == {"type": "null"}
    number, text = timeout["anyOf"]
    assert number == {"type": "number", "exclusiveMinimum": 0}
    assert text["type"] == "string"
    assert re.match(text["pattern"], "250ms")
    assert not re.match(text["pattern"], "2 weeks")
