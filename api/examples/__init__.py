"""Realistic payloads for the OpenAPI document, one JSON file per example.

The responses were taken from a run of `blocktrack demo` (times moved to the demo's week), so ids, figures
and sentences agree with each other and with what the service really answers. Tests validate each one
against the schema it illustrates (tests/test_openapi.py).
"""

import copy
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

_RECORDED: dict[str, list[Any]] = {}  # model name -> its examples, as given


@cache
def _load(name: str) -> Any:
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))


def example(name: str) -> Any:
    """A fresh copy of example `name` (the file `name.json` beside this module)."""
    return copy.deepcopy(_load(name))


def with_examples(values: list[Any]) -> Callable[[dict[str, Any], type], None]:
    """For a model's `json_schema_extra`: these whole-object examples in its component schema."""

    def extra(schema: dict[str, Any], model: type) -> None:
        schema["examples"] = copy.deepcopy(values)
        _RECORDED[model.__name__] = values

    return extra


def schema_examples(*names: str) -> Callable[[dict[str, Any], type], None]:
    """`with_examples` of the named example files (loaded now, so a missing one fails at import)."""
    return with_examples([example(name) for name in names])


def restore_examples(components: dict[str, Any]) -> None:
    """Put back the examples' nulls: FastAPI drops every null from the document it generates
    (`exclude_none`), examples included, and a client must see that `voided_at` is there and null."""
    for schema in components.values():
        values = _RECORDED.get(schema.get("title", ""))
        if values is not None and "examples" in schema:
            schema["examples"] = copy.deepcopy(values)
