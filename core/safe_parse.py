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
- `load_yaml` first reads the document's event stream (libyaml's parser: no tree, no
  recursion) and bounds nesting depth, the number of aliases, and the number of nodes the
  document holds once every alias is expanded (an alias counts as many nodes as the subtree
  it names); only then is it loaded, with the same safe loader.
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


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~4x faster


def load_yaml(text: str, *, field: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """`yaml.safe_load` with bounded depth and alias expansion; `yaml.YAMLError` on bad syntax.

    The event stream is checked first (libyaml's parser: no tree is built, nothing recurses),
    then the same text is loaded. Depth counts collections, as `json_depth` does.
    """
    _check_yaml_events(yaml.parse(text, Loader=_Loader), field, max_depth)
    return yaml.load(text, Loader=_Loader)  # CSafeLoader or SafeLoader: no arbitrary objects


def _check_yaml_events(events: Any, field: str, max_depth: int) -> None:
    open_collections: list[tuple[str | None, int]] = []  # (anchor, nodes before it)
    sizes: dict[str, int] = {}  # anchor → nodes its subtree expands to
    nodes = aliases = 0
    for event in events:
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise _too_complex(field, "max_yaml_aliases", MAX_YAML_ALIASES, "YAML aliases")
            nodes += sizes.get(str(event.anchor), 1)
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor is not None:
                sizes[str(event.anchor)] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(open_collections) >= max_depth:
                raise NestingTooDeep(
                    f"{field} nests deeper than {max_depth} levels",
                    field=field,
                    rule="max_depth",
                    extra={"limit": max_depth},
                )
            open_collections.append((event.anchor, nodes))
            nodes += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, before = open_collections.pop()
            if anchor is not None:
                sizes[str(anchor)] = nodes - before
        if nodes > MAX_YAML_NODES:
            raise _too_complex(
                field, "max_yaml_nodes", MAX_YAML_NODES, "YAML nodes (aliases expanded)"
            )


def _too_complex(field: str, rule: str, limit: int, what: str) -> YamlTooComplex:
    return YamlTooComplex(
        f"{field} holds more than {limit} {what}", field=field, rule=rule, extra={"limit": limit}
    )
