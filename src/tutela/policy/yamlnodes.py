"""Typed reading of PyYAML nodes that records a problem, with its position, instead of raising.

PyYAML's `compose` keeps each node's start and end marks; the readers here turn a node into a Python value
of the expected type or add a problem at that node and return None, so parsing goes on and every error in a
file is found in one pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import yaml

from tutela.policy.problems import Problems, Span, did_you_mean

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"

_KIND_NAMES = {
    _STR: "a string",
    _INT: "an integer",
    _BOOL: "a boolean",
    _NULL: "null",
    "tag:yaml.org,2002:float": "a number",
}


def span(node: yaml.Node) -> Span:
    start, end = node.start_mark, node.end_mark
    length = end.column - start.column if end.line == start.line else 1
    return Span(start.line + 1, start.column + 1, length)


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _KIND_NAMES.get(node.tag, "a value") + f" ({node.value!r})"


class Reader:
    """Reads nodes of one policy file, adding every problem it meets to `problems`."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self._constructor = yaml.SafeLoader("")

    def error(self, node: yaml.Node, message: str, hint: str | None = None) -> None:
        self.problems.add(span(node), message, hint)

    def mapping(
        self,
        node: yaml.Node,
        what: str,
        allowed: Sequence[str],
        required: Sequence[str] = (),
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """The entries of a mapping node by key, each as (key node, value node); unknown keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping, not {describe(node)}")
            return None
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                self.error(key_node, f"a key in {what} must be a plain name, not {describe(key_node)}")
                continue
            key = key_node.value
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                self.error(key_node, f"duplicate key {key!r} in {what}", f"first given on line {first}")
            elif key not in allowed:
                self.error(key_node, f"unknown key {key!r} in {what}", did_you_mean(key, allowed))
            else:
                entries[key] = (key_node, value_node)
        for key in required:
            if key not in entries:
                self.error(node, f"{what} needs the key {key!r}")
        return entries

    def items(self, node: yaml.Node, what: str) -> Iterator[yaml.Node]:
        """The items of a sequence node (nothing, after a problem, when it is not one)."""
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list, not {describe(node)}")
            return
        yield from node.value

    def string(self, node: yaml.Node, what: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            value: str = node.value
            if value.strip():
                return value
            self.error(node, f"{what} must not be empty")
            return None
        hint = None
        if isinstance(node, yaml.ScalarNode) and node.tag in (_BOOL, _NULL, _INT):
            hint = f"YAML reads {node.value!r} as {_KIND_NAMES[node.tag]}; quote it: '{node.value}'"
        self.error(node, f"{what} must be a string, not {describe(node)}", hint)
        return None

    def strings(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]] | None:
        """A string or a list of strings, each with its node; None after a problem."""
        nodes = list(self.items(node, what)) if isinstance(node, yaml.SequenceNode) else [node]
        if isinstance(node, yaml.SequenceNode) and not nodes:
            self.error(node, f"{what} must not be an empty list")
            return None
        out: list[tuple[str, yaml.Node]] = []
        ok = True
        for item in nodes:
            value = self.string(item, what)
            if value is None:
                ok = False
            else:
                out.append((value, item))
        return out if ok else None

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _BOOL:
            return bool(self._constructor.construct_object(node))
        self.error(node, f"{what} must be true or false, not {describe(node)}")
        return None

    def integer(self, node: yaml.Node, what: str) -> int | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT:
            return int(self._constructor.construct_object(node))
        self.error(node, f"{what} must be an integer, not {describe(node)}")
        return None


def key_name(node: yaml.Node) -> str | None:
    """The key of a one-entry mapping written as a plain name, else None."""
    if isinstance(node, yaml.MappingNode) and len(node.value) == 1:
        key = node.value[0][0]
        if isinstance(key, yaml.ScalarNode) and key.tag == _STR:
            return str(key.value)
    return None
