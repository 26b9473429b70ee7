"""Command-line flags from a typed read query (``storage.query_types``): the parameter list
is written once, in the query, and the HTTP API and the CLI both read it from there.

A field ``since`` becomes ``--since`` (``include_unsupported``: ``--include-unsupported``);
times parse as ISO 8601, numbers as numbers, a bool is a switch, ``enum`` values in a field's
schema become the flag's choices, and its description its help.
"""

from __future__ import annotations

import argparse
import types
import typing
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

QueryT = TypeVar("QueryT", bound=BaseModel)


def iso(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 timestamp") from None


def _plain_type(annotation: Any) -> Any:
    """``datetime | None`` -> ``datetime``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def add_query_arguments(parser: argparse.ArgumentParser, query: type[BaseModel], *, skip: tuple[str, ...] = ()) -> None:
    """One flag per field of ``query`` (but ``skip``); required fields are required flags."""
    for name, field in query.model_fields.items():
        if name in skip:
            continue
        flag = "--" + name.replace("_", "-")
        kind = _plain_type(field.annotation)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        options: dict[str, Any] = {"help": field.description, "dest": name}
        if kind is bool:
            parser.add_argument(flag, action="store_true", **options)
            continue
        options["type"] = iso if kind is datetime else kind
        if "enum" in extra:
            options["choices"] = extra["enum"]
        if field.is_required():
            options["required"] = True
        elif field.default is not None:
            options["default"] = field.default
        parser.add_argument(flag, **options)


def query_from_args(args: argparse.Namespace, query: type[QueryT]) -> QueryT:
    """The query the flags of ``add_query_arguments`` gave."""
    given = {name: getattr(args, name) for name in query.model_fields if getattr(args, name, None) is not None}
    return query.model_validate(given)
