"""Checked reads of JSON bodies: every mismatch becomes a ResponseValidationError naming the path."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from .._checks import is_int, is_number
from .._errors import ResponseValidationError

__all__ = ["Node", "load_json_object", "maker"]

T = TypeVar("T")


class _Body:
    """A response body that never shows itself in a repr (it may echo a secret back)."""

    __slots__ = ("content",)

    def __init__(self, content: bytes) -> None:
        self.content = content

    def __repr__(self) -> str:
        return f"<{len(self.content)} bytes>"


def load_json_object(
    content: bytes | _Body, what: str, *, redact: Callable[[str], str] | None = None
) -> Mapping[str, Any]:
    """Parse a 2xx body that must be a JSON object.

    The start of a body that is not JSON is quoted in the error, with ``redact`` applied (the
    client's secrets removed); the raw bytes never sit in a local variable of the raising frame.
    """
    body = content if isinstance(content, _Body) else _Body(content)
    del content
    return _load(body, what, redact)


# The C scanner: json.loads without its encoding sniff and its two regular expressions.
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON_SPACE = " \t\n\r"


def _scan_object(content: bytes) -> Any:
    """The usual body (UTF-8, starting with ``{``) through the scanner directly; None otherwise."""
    if content[:1] != b"{":
        return None
    try:
        text = content.decode()
        data, end = _scan(text, 0)
    except (ValueError, StopIteration, RecursionError):
        return None  # json.loads says what is wrong
    if end != len(text) and text[end:].strip(_JSON_SPACE):
        return None
    return data


def _load(body: _Body, what: str, redact: Callable[[str], str] | None) -> Mapping[str, Any]:
    data = _scan_object(body.content) if type(body.content) is bytes else None
    if type(data) is dict:
        return data
    try:
        data = json.loads(body.content)
    except (ValueError, RecursionError) as exc:
        reason = getattr(exc, "msg", None) or type(exc).__name__
        raise ResponseValidationError(
            f"{what}: the response is not JSON ({reason}); "
            f"it starts {(redact or str)(body.content[:60].decode('utf-8', 'replace'))!r}"
        ) from None
    if not isinstance(data, dict):
        raise ResponseValidationError(f"{what}: the response is a JSON {type(data).__name__}, not an object")
    return data


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)


class Node:
    """A JSON object at a known path, read through typed accessors.

    The path is only spelled out when an error needs it: a child node keeps its parent, its key
    and its index, so parsing a long list costs no string formatting.
    """

    __slots__ = ("_index", "_key", "_parent", "data")

    def __init__(
        self, data: Mapping[str, Any], path: str | Node, key: str | None = None, index: int | None = None
    ) -> None:
        self.data = data
        self._parent = path
        self._key = key
        self._index = index

    @property
    def path(self) -> str:
        parent = self._parent
        base = parent if isinstance(parent, str) else parent.path
        if self._key is None:
            return base
        return f"{base}.{self._key}" if self._index is None else f"{base}.{self._key}[{self._index}]"

    def _fail(self, key: str, expected: str, value: object) -> ResponseValidationError:
        return ResponseValidationError(f"response field {self.path}.{key} should be {expected}, got {_kind(value)}")

    def raw(self) -> Mapping[str, Any]:
        """A read-only view of the object (a fresh dict from the JSON decoder: nothing else holds it)."""
        return MappingProxyType(self.data) if type(self.data) is dict else MappingProxyType(dict(self.data))

    def opt_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or type(value) is str or isinstance(value, str):
            return value
        raise self._fail(key, "a string", value)

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if isinstance(value, str):
            return value
        raise self._fail(key, "a string", value)

    def opt_number(self, key: str) -> float | None:
        value = self.data.get(key)
        kind = type(value)
        if kind is float:
            return value
        if value is None:
            return None
        if kind is int or is_number(value):
            return float(value)
        raise self._fail(key, "a number", value)

    def number(self, key: str) -> float:
        value = self.opt_number(key)
        if value is None:
            raise self._fail(key, "a number", None)
        return value

    def opt_integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if is_int(value):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise self._fail(key, "an integer", value)

    def integer(self, key: str) -> int:
        value = self.opt_integer(key)
        if value is None:
            raise self._fail(key, "an integer", None)
        return value

    def boolean(self, key: str, default: bool | None = None) -> bool:
        value = self.data.get(key)
        if isinstance(value, bool):
            return value
        if value is None and default is not None:
            return default
        raise self._fail(key, "a boolean", value)

    def opt_obj(
        self, key: str, parse: Callable[[Node], T], fast: Callable[[dict[str, Any]], T | None] | None = None
    ) -> T | None:
        value = self.data.get(key)
        if value is None:
            return None
        if fast is not None and type(value) is dict:
            result = fast(value)
            if result is not None:
                return result
        if type(value) is dict or isinstance(value, Mapping):
            return parse(Node(value, self, key))
        raise self._fail(key, "an object", value)

    def obj(self, key: str, parse: Callable[[Node], T]) -> T:
        value = self.opt_obj(key, parse)
        if value is None:
            raise self._fail(key, "an object", None)
        return value

    def _array(self, key: str, required: bool = False) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self._fail(key, "an array", None)
            return []
        if isinstance(value, list):
            return value
        raise self._fail(key, "an array", value)

    def objects(
        self,
        key: str,
        parse: Callable[[Node], T],
        *,
        required: bool = False,
        fast: Callable[[dict[str, Any]], T | None] | None = None,
    ) -> tuple[T, ...]:
        """The array ``key`` of objects, each through ``parse``.

        ``fast`` (optional) takes an item's raw dict and returns the result when the item has the
        usual shape, checked at once, or None to have ``parse`` read it field by field.
        """
        items = self._array(key, required)
        if fast is not None:
            made = []
            for item in items:
                result = fast(item) if type(item) is dict else None
                if result is None:
                    break
                made.append(result)
            else:
                return tuple(made)
        out = []
        for i, item in enumerate(items):
            if type(item) is not dict and not isinstance(item, Mapping):
                raise self._fail(f"{key}[{i}]", "an object", item)
            out.append(parse(Node(item, self, key, i)))
        return tuple(out)

    def texts(self, key: str) -> tuple[str, ...]:
        items = self._array(key)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self._fail(f"{key}[{i}]", "a string", item)
        return tuple(items)

    def numbers(self, key: str) -> tuple[float, ...]:
        items = self._array(key, required=True)
        for i, item in enumerate(items):
            if not is_number(item):
                raise self._fail(f"{key}[{i}]", "a number", item)
        return tuple(float(v) for v in items)


def maker(cls: type[T]) -> Callable[..., T]:
    """A constructor for a frozen, slotted dataclass taking every field positionally, in order.

    It sets the slots through their descriptors instead of the frozen ``__init__``'s
    ``object.__setattr__`` per field: about a third cheaper, which counts for the thousands of
    words of a Read result. Generated like dataclasses' own ``__init__``; no defaults, no checks,
    so it is only for parsers that have checked every value.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def make({', '.join(names)}):", "    obj = _new(_cls)"]
    for i, name in enumerate(names):
        namespace[f"_set{i}"] = getattr(cls, name).__set__
        lines.append(f"    _set{i}(obj, {name})")
    lines.append("    return obj")
    exec("\n".join(lines), namespace)  # the source is built from field names only
    make: Callable[..., T] = namespace["make"]
    make.__qualname__ = f"maker({cls.__qualname__})"
    return make
