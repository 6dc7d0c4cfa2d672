"""A JSON parser that refuses what the platform must never half-process: oversize, deep or NUL-laden bodies."""

import json
import math
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def _reject_constant(name: str) -> Any:
    raise ParseError(f"JSON body contains {name}, which is not valid JSON; send numbers only.")


def _finite_float(text: str) -> float:
    # `1e999` is valid JSON but parses to infinity, which no JSON column can store.
    value = float(text)
    if not math.isfinite(value):
        raise ParseError(f"JSON number {text[:32]} is out of range.")
    return value


# A lone UTF-16 surrogate (from a `\ud800` escape) decodes to a str that cannot be encoded as UTF-8 or stored.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "NUL character"
    if _SURROGATE.search(text):
        return "unpaired surrogate escape"
    return None


def check_json_shape(value: Any, *, max_depth: int) -> None:
    """Refuse nesting deeper than `max_depth` and NUL characters, naming where they are."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            problem = _text_problem(node)
            if problem:
                raise ParseError(f"{problem} in {path or 'body'}; text must be valid Unicode without U+0000.")
            continue
        if not isinstance(node, Mapping | list):
            continue
        if depth > max_depth:
            raise ParseError(f"JSON nested deeper than {max_depth} levels at {path or 'body'}.")
        if isinstance(node, Mapping):
            for key, child in node.items():
                child_path = f"{path}.{key}" if path else str(key)
                problem = _text_problem(key)
                if problem:
                    raise ParseError(
                        f"{problem} in a key at {path or 'body'}; keys must be valid Unicode without U+0000."
                    )
                stack.append((child, child_path, depth + 1))
        else:
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(node))


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        limit = int(settings.API_MAX_BODY_BYTES)
        request = (parser_context or {}).get("request")
        declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if declared > limit:
            raise RequestTooLarge(f"Request body of {declared} bytes exceeds the limit of {limit} bytes.")
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"Request body is not valid UTF-8 (byte {exc.start}).") from exc
        try:
            data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
        except RecursionError as exc:
            raise ParseError("JSON nested too deeply.") from exc
        except json.JSONDecodeError as exc:
            raise ParseError(f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from exc
        except ValueError as exc:  # an integer literal longer than Python converts (sys.get_int_max_str_digits)
            raise ParseError("JSON number too long.") from exc
        check_json_shape(data, max_depth=int(settings.API_MAX_JSON_DEPTH))
        return data
