"""Untrusted JSON and YAML with bounded nesting and bounded YAML alias expansion.

Python's `json` and PyYAML recurse once per nesting level, and so do pydantic, our NUL walks
and JSONB encoding after them: a body nested 1,000 deep ends in a `RecursionError` (a 500)
somewhere down the line. YAML aliases are worse: PyYAML shares the node an alias names, so a
few hundred bytes of nested aliases ("billion laughs") load instantly into a graph that every
later walk expands into billions of nodes. So:

- `check_json_depth` measures a JSON text's nesting without parsing it: strings are cut out
  with one linear regular expression, the remaining brackets are counted with numpy. No
  recursion, no Python loop per byte; a text with fewer opening brackets than the limit
  (most bodies) costs two `bytes.count` calls.
- `load_yaml` is PyYAML's safe loader with the composer bounded: nesting depth, number of
  aliases, and the number of nodes the document holds once every alias is expanded (an
  alias counts as many nodes as the subtree it names), checked as the document is composed,
  before anything is built from it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from core.errors import InvalidInput

# Deeper than any contract, policy or OpenLineage event we have seen (they stay under 12),
# far below where Python's recursion limit (1,000) is reached by the walks after parsing.
MAX_DEPTH = 64
MAX_YAML_ALIASES = 100
MAX_YAML_NODES = 200_000

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 / -1 as int8


class NestingTooDeep(InvalidInput):
    """A JSON or YAML document nests deeper than `MAX_DEPTH` (HTTP 422)."""

    title = "Nesting too deep"
    type_slug = "nesting-too-deep"


class YamlTooComplex(InvalidInput):
    """A YAML document uses too many aliases, or expands to too many nodes (HTTP 422)."""

    title = "YAML document too complex"
    type_slug = "yaml-too-complex"


def json_depth(text: bytes | str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    import numpy as np

    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    steps = np.frombuffer(brackets.translate(_STEP), dtype=np.int8)
    return int(np.cumsum(steps, dtype=np.int64).max())


def check_json_depth(text: bytes | str, *, field: str = "body", limit: int = MAX_DEPTH) -> None:
    """Raise `NestingTooDeep` naming `field` when `text` nests deeper than `limit`."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return  # cannot nest deeper than it has brackets
    depth = json_depth(raw)
    if depth > limit:
        raise NestingTooDeep(
            f"{field} nests {depth} levels deep; at most {limit} are accepted",
            field=field,
            rule="max_depth",
            extra={"limit": limit},
        )


class _BoundedSafeLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses deep nesting and alias expansion past a budget."""

    def __init__(self, stream: str, field: str, max_depth: int) -> None:
        super().__init__(stream)
        self._field, self._max_depth = field, max_depth
        self._depth = self._aliases = self._nodes = 0
        self._sizes: dict[str, int] = {}  # anchor → nodes its subtree expands to

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            self._count(self._sizes.get(str(event.anchor), 1), alias=True)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > self._max_depth:
            raise NestingTooDeep(
                f"{self._field} nests deeper than {self._max_depth} levels",
                field=self._field,
                rule="max_depth",
                extra={"limit": self._max_depth},
            )
        before = self._nodes
        self._count(1)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if event.anchor is not None:
            self._sizes[str(event.anchor)] = self._nodes - before
        return node

    def _count(self, nodes: int, *, alias: bool = False) -> None:
        self._nodes += nodes
        if self._aliases > MAX_YAML_ALIASES:
            raise YamlTooComplex(
                f"{self._field} uses more than {MAX_YAML_ALIASES} YAML aliases",
                field=self._field,
                rule="max_yaml_aliases",
                extra={"limit": MAX_YAML_ALIASES},
            )
        if self._nodes > MAX_YAML_NODES:
            why = " once its aliases are expanded" if alias or self._aliases else ""
            raise YamlTooComplex(
                f"{self._field} holds more than {MAX_YAML_NODES} YAML nodes{why}",
                field=self._field,
                rule="max_yaml_nodes",
                extra={"limit": MAX_YAML_NODES},
            )


def load_yaml(text: str, *, field: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """`yaml.safe_load` with bounded depth and alias expansion; `yaml.YAMLError` on bad syntax."""
    loader = _BoundedSafeLoader(text, field, max_depth)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
