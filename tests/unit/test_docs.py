"""Every public name documents itself the same way in the compiled and the pure build:
``help()`` shows its docstring, ``inspect.signature`` its real signature (mypyc drops both for
the classes it compiles; ``meshkit._docs`` gives them back from the sources).

Run as a script, this file prints the public surface's documentation as JSON: the test runs it
under the pure build and compares with what this process (whichever build it has) shows.
"""

from __future__ import annotations

import inspect
import json
import pydoc
import subprocess
import sys

import meshkit


def documentation() -> dict[str, list[str]]:
    """Each public class's or function's docstring and signature, and its module's docstring,
    by name."""
    shown = {}
    for name in meshkit.__all__:
        value = getattr(meshkit, name)
        if callable(value):
            module = sys.modules[value.__module__]
            shown[name] = [
                inspect.getdoc(value) or "",
                str(inspect.signature(value)),
                inspect.getdoc(module) or "",
            ]
    return shown


def test_every_public_class_has_its_docstring_and_signature() -> None:
    shown = documentation()
    assert [name for name, (doc, _, module_doc) in shown.items() if not (doc and module_doc)] == []
    assert "*args, **kwargs" not in shown["CircuitBreaker"][1]


def test_help_shows_a_compiled_class_s_docstring_and_signature() -> None:
    text = pydoc.render_doc(meshkit.RateLimiter, renderer=pydoc.plaintext)
    first_line = "Limit how often calls run; refuse (or briefly delay) the calls over the limit."
    assert (
        "class RateLimiter(builtins.object)\n |  RateLimiter(options: 'RateLimitOptions', *" in text
    )
    assert f" |  {first_line}\n" in text


def test_both_builds_show_the_same(pure_python: list[str]) -> None:
    pure = subprocess.run(
        [*pure_python, __file__], capture_output=True, text=True, check=True
    ).stdout
    assert documentation() == json.loads(pure)


if __name__ == "__main__":
    print(json.dumps(documentation()))
