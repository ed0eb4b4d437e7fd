"""`when:` conditions: combinators (all, any, not), match and signal conditions, context conditions.

A condition is a mapping; several keys in one mapping must all hold, and a list of conditions means `all`.
"""

from __future__ import annotations

import re

import yaml

from tutela.banks.models import BankCategory
from tutela.policy import regions
from tutela.policy.model import (
    AGE_BANDS,
    COMPARISON_OPS,
    DISTANCE_RANGE,
    QUALITY_RANGE,
    AllOf,
    Always,
    AnyOf,
    Comparison,
    Condition,
    ContextCondition,
    ContextField,
    MatchCondition,
    Not,
    SignalCondition,
)
from tutela.policy.problems import did_you_mean
from tutela.policy.yamlnodes import Reader, describe
from tutela.signals.registry import SIGNAL_TYPES

CONDITION_KEYS = ("all", "any", "not", "always", "match", "signal", *(f.value for f in ContextField))
MATCH_KEYS = ("category", "bank", "signal_type", "distance", "quality")
SIGNAL_KEYS = ("type", "quality")
CATEGORIES = tuple(c.value for c in BankCategory)

_COMPARISON = re.compile(r"^\s*(<=|>=|==|<|>)\s*(-?\d+)\s*$")


def parse_condition(reader: Reader, node: yaml.Node, what: str = "a condition") -> Condition | None:
    if isinstance(node, yaml.SequenceNode):
        return _combine(reader, node, "all", AllOf)
    entries = reader.mapping(node, what, CONDITION_KEYS)
    if entries is None:
        return None
    if not entries and isinstance(node, yaml.MappingNode) and not node.value:
        reader.error(node, f"{what} is empty", "write a condition such as `match: {category: csam}`")
        return None
    parts: list[Condition | None] = []
    for key, (key_node, value) in entries.items():
        parts.append(_one(reader, key, key_node, value))
    if any(part is None for part in parts) or not parts:
        return None
    found = [part for part in parts if part is not None]
    return found[0] if len(found) == 1 else AllOf(tuple(found))


def _one(reader: Reader, key: str, key_node: yaml.Node, value: yaml.Node) -> Condition | None:
    if key == "all":
        return _combine(reader, value, "all", AllOf)
    if key == "any":
        return _combine(reader, value, "any", AnyOf)
    if key == "not":
        inner = parse_condition(reader, value, "the condition under 'not'")
        return None if inner is None else Not(inner)
    if key == "always":
        flag = reader.boolean(value, "always")
        if flag is False:
            reader.error(value, "'always: false' never holds", "remove the rule, or mark it `shadow: true`")
        return Always() if flag else None
    if key == "match":
        return _match(reader, value)
    if key == "signal":
        return _signal(reader, value)
    return _context(reader, ContextField(key), value)


def _combine(reader: Reader, node: yaml.Node, name: str, kind: type[AllOf] | type[AnyOf]) -> Condition | None:
    items = list(reader.items(node, f"'{name}'"))
    if isinstance(node, yaml.SequenceNode) and not items:
        reader.error(node, f"'{name}' needs at least one condition")
        return None
    parsed = [parse_condition(reader, item, f"a condition in '{name}'") for item in items]
    if not items or any(p is None for p in parsed):
        return None
    return kind(tuple(p for p in parsed if p is not None))


def _match(reader: Reader, node: yaml.Node) -> MatchCondition | None:
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return MatchCondition()
    entries = reader.mapping(node, "'match'", MATCH_KEYS)
    if entries is None:
        return None
    ok = True
    categories = banks = signal_types = None
    distance: tuple[Comparison, ...] = ()
    quality: tuple[Comparison, ...] = ()
    if "category" in entries:
        categories = _choices(reader, entries["category"][1], "category", CATEGORIES)
        ok &= categories is not None
    if "bank" in entries:
        values = reader.strings(entries["bank"][1], "bank")
        banks = None if values is None else frozenset(v for v, _ in values)
        ok &= banks is not None
    if "signal_type" in entries:
        signal_types = _choices(reader, entries["signal_type"][1], "signal_type", tuple(SIGNAL_TYPES))
        ok &= signal_types is not None
    if "distance" in entries:
        parsed = _comparisons(reader, entries["distance"][1], "distance", DISTANCE_RANGE, "<= 16")
        ok &= parsed is not None
        distance = parsed or ()
    if "quality" in entries:
        parsed = _comparisons(reader, entries["quality"][1], "quality", QUALITY_RANGE, ">= 50")
        ok &= parsed is not None
        quality = parsed or ()
    return MatchCondition(categories, banks, signal_types, distance, quality) if ok else None


def _signal(reader: Reader, node: yaml.Node) -> SignalCondition | None:
    entries = reader.mapping(node, "'signal'", SIGNAL_KEYS)
    if entries is None:
        return None
    types = None
    quality: tuple[Comparison, ...] | None = ()
    if "type" in entries:
        types = _choices(reader, entries["type"][1], "signal type", tuple(SIGNAL_TYPES))
        if types is None:
            return None
    if "quality" in entries:
        quality = _comparisons(reader, entries["quality"][1], "quality", QUALITY_RANGE, ">= 50")
    return None if quality is None else SignalCondition(types, quality)


def _context(reader: Reader, name: ContextField, node: yaml.Node) -> ContextCondition | None:
    values = reader.strings(node, name.value)
    if values is None:
        return None
    ok = True
    for value, item in values:
        if name is ContextField.JURISDICTION and (problem := regions.code_problem(value)):
            reader.error(item, *problem)
            ok = False
        elif name is ContextField.AGE_BAND and value not in AGE_BANDS:
            reader.error(item, f"unknown age band {value!r}", did_you_mean(value, AGE_BANDS))
            ok = False
    if not ok:
        return None
    codes = [v for v, _ in values]
    chosen = regions.expand(codes) if name is ContextField.JURISDICTION else frozenset(codes)
    return ContextCondition(name, chosen)


def _choices(reader: Reader, node: yaml.Node, what: str, known: tuple[str, ...]) -> frozenset[str] | None:
    values = reader.strings(node, what)
    if values is None:
        return None
    ok = True
    for value, item in values:
        if value not in known:
            reader.error(item, f"unknown {what} {value!r}", did_you_mean(value, known))
            ok = False
    return frozenset(v for v, _ in values) if ok else None


def _comparisons(
    reader: Reader, node: yaml.Node, what: str, bounds: tuple[int, int], example: str
) -> tuple[Comparison, ...] | None:
    items = list(node.value) if isinstance(node, yaml.SequenceNode) else [node]
    out: list[Comparison] = []
    ok = True
    for item in items:
        text = item.value if isinstance(item, yaml.ScalarNode) else None
        found = _COMPARISON.match(text) if isinstance(text, str) else None
        if found is None:
            ops = " ".join(COMPARISON_OPS)
            reader.error(
                item,
                f"{what} must be a comparison such as '{example}', not {describe(item)}",
                f'write an operator ({ops}) and a number, quoted: {what}: "{example}"',
            )
            ok = False
            continue
        bound = int(found.group(2))
        low, high = bounds
        if not low <= bound <= high:
            reader.error(item, f"{what} bound {bound} is out of range", f"{what} is between {low} and {high}")
            ok = False
            continue
        out.append(Comparison(found.group(1), bound))
    if ok and not out:
        reader.error(node, f"{what} needs at least one comparison")
        return None
    return tuple(out) if ok else None
