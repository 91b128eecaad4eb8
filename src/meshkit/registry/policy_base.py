"""The base of the policy models: parse a section, let the library check it."""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

from meshkit.errors import ConfigError

__all__ = ["OptionRefused", "PolicyModel", "checked", "field_default", "under_key"]

T = TypeVar("T")


class OptionRefused(ConfigError):
    """A policy's options refused a value of a config section; ``option`` is the key, within
    that section, that holds it (the loaders add the section's key path)."""

    @property
    def reason(self) -> str:
        """The message without its leading option name (the key path says it)."""
        text, option = str(self), self.option or ""
        return text.removeprefix(f"{option} ") if text.startswith(f"{option} must") else text


def checked(build: Callable[[], T]) -> T:
    """``build()``, with a refusal raised as :class:`OptionRefused`."""
    try:
        return build()
    except OptionRefused:
        raise
    except ConfigError as exc:
        raise OptionRefused(str(exc), option=exc.option) from None


class PolicyModel(BaseModel):
    """A policy's config: frozen, unknown keys refused, checked by the library it builds."""

    # Attribute docstrings are the fields' descriptions (the gateway's config reference).
    # Infinity is refused here: "no limit" is spelt by leaving a key out (or null), and a
    # record must survive JSON, which has no infinity.
    model_config = ConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False
    )

    @abstractmethod
    def options(self) -> object:
        """The library options this model stands for (``ConfigError`` if they are invalid)."""

    @model_validator(mode="after")
    def _library_checks(self) -> Self:
        checked(self.options)  # the one set of range checks: the options' own
        return self


def field_default(options: type[Any], name: str) -> Any:
    """The default of dataclass ``options``'s field ``name``: the library's, not a copy."""
    return next(f.default for f in dataclasses.fields(options) if f.name == name)


def under_key(key: str, build: Callable[[], T]) -> T:
    """``build()``, with a refusal named after the one ``key`` it was built from
    (``per_try_timeout: 0`` is ``TimeoutOptions(seconds=0)``: the user wrote no `seconds`)."""
    try:
        return build()
    except ConfigError as exc:
        text, option = str(exc), exc.option or ""
        if option and text.startswith(f"{option} "):
            text = f"{key} {text.removeprefix(f'{option} ')}"
        raise OptionRefused(text, option=key) from None
