"""hatch_build.py's choice between compiling the data path and falling back to pure Python.
(Building real wheels both ways: tests/integration/test_install.py.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_list_names_existing_modules_once(hook: ModuleType) -> None:
    modules = hook.compiled_modules()
    assert len(set(modules)) == len(modules)
    assert [path for path in modules if not (ROOT / "src" / path).is_file()] == []


@pytest.mark.parametrize(
    ("value", "choice"),
    [("", "auto"), ("auto", "auto"), ("1", "on"), ("TRUE", "on"), ("0", "off"), ("false", "off")],
)
def test_meshkit_compile_values(
    hook: ModuleType, monkeypatch: pytest.MonkeyPatch, value: str, choice: str
) -> None:
    monkeypatch.setenv("MESHKIT_COMPILE", value)
    assert hook.compile_choice() == choice


def test_an_unknown_value_names_the_allowed_ones(
    hook: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHKIT_COMPILE", "yes please")
    with pytest.raises(hook.CompileFailed, match=r"use 1 \(compile\), 0 \(pure\) or auto"):
        hook.compile_choice()


def test_without_a_c_compiler_auto_falls_back_and_says_so(
    hook: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", "/nonexistent/cc -O2")
    said: list[str] = []
    assert hook.should_compile("auto", said.append) is False
    assert said == [
        "no C compiler found: the data path stays pure Python (about a third of the compiled "
        "gateway's throughput); install gcc or clang and build again for the compiled one"
    ]


def test_without_a_c_compiler_a_required_build_fails(
    hook: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.raises(hook.CompileFailed, match="no C compiler was found"):
        hook.should_compile("on", print)


def test_with_a_c_compiler_auto_compiles(hook: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", sys.executable)  # any program that exists stands for one
    assert hook.should_compile("auto", print) is True


def test_off_never_compiles(hook: ModuleType) -> None:
    said: list[str] = []
    assert hook.should_compile("off", said.append) is False
    assert said == ["MESHKIT_COMPILE=0: the data path stays pure Python"]
