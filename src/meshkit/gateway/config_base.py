"""The base of every config model: frozen, unknown keys refused, fields described."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["NAME_PATTERN", "Strict"]

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
"""Service and route names: DNS labels, since they end up in URLs and metric labels."""


class Strict(BaseModel):
    # Attribute docstrings become field descriptions: the reference docs and the JSON Schema
    # are generated from them, and a line after a field merges more easily than an argument.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
