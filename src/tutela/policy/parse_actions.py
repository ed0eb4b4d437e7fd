"""`then:` actions: a list of bare names (`block`) and one-entry mappings (`hold_for_review: queue`)."""

from __future__ import annotations

import re

import yaml

from tutela.policy.model import ACTIONS_WITH_ARGUMENT, Action, ActionKind, ReportTarget
from tutela.policy.problems import Span, did_you_mean
from tutela.policy.yamlnodes import Reader, describe, key_name, span

ACTION_NAMES = tuple(kind.value for kind in ActionKind)
REPORT_TARGETS = tuple(target.value for target in ReportTarget)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_CALL = re.compile(r"^\s*([a-z_]+)\s*\(\s*([^()]*?)\s*\)\s*$")
_EXAMPLE_ARGUMENT = {
    ActionKind.LABEL: "label-name",
    ActionKind.HOLD_FOR_REVIEW: "queue",
    ActionKind.REPORT: "ncmec",
}


def parse_actions(reader: Reader, node: yaml.Node) -> tuple[Action, ...] | None:
    if not isinstance(node, yaml.SequenceNode):
        reader.error(node, f"'then' must be a list of actions, not {describe(node)}", "write `then: [block]`")
        return None
    if not node.value:
        reader.error(node, "'then' needs at least one action", "write `allow` to record that nothing is done")
        return None
    parsed = [_action(reader, item) for item in node.value]
    if any(action is None for action in parsed):
        return None
    return tuple(action for action in parsed if action is not None)


def _kind(reader: Reader, node: yaml.Node, name: str) -> ActionKind | None:
    if name in ACTION_NAMES:
        return ActionKind(name)
    reader.error(node, f"unknown action {name!r}", did_you_mean(name, ACTION_NAMES))
    return None


def _action(reader: Reader, node: yaml.Node) -> Action | None:
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str"):
        call = _CALL.match(node.value)
        if call:
            reader.error(node, f"{node.value!r} is not action syntax", f"write `{call[1]}: {call[2]}`")
            return None
        kind = _kind(reader, node, node.value)
        if kind is None:
            return None
        if kind in ACTIONS_WITH_ARGUMENT:
            example = _EXAMPLE_ARGUMENT[kind]
            reader.error(node, f"action {kind.value!r} needs an argument", f"write `{kind.value}: {example}`")
            return None
        return Action(kind, None, span(node))
    name = key_name(node)
    if name is None:
        reader.error(node, f"an action must be a name or `name: argument`, not {describe(node)}")
        return None
    key_node, value_node = node.value[0]
    kind = _kind(reader, key_node, name)
    if kind is None:
        return None
    if kind not in ACTIONS_WITH_ARGUMENT:
        reader.error(key_node, f"action {kind.value!r} takes no argument", f"write `- {kind.value}`")
        return None
    argument = reader.string(value_node, f"the argument of {kind.value!r}")
    if argument is None:
        return None
    if kind is ActionKind.REPORT and argument not in REPORT_TARGETS:
        reader.error(
            value_node, f"unknown report target {argument!r}", did_you_mean(argument, REPORT_TARGETS)
        )
        return None
    if not _NAME.match(argument):
        reader.error(
            value_node,
            f"{argument!r} is not a valid {kind.value} name",
            "use lower-case letters, digits, '-', '_' and '.', at most 64 characters",
        )
        return None
    start, end = key_node.start_mark, value_node.end_mark
    length = end.column - start.column if end.line == start.line else 1
    return Action(kind, argument, Span(start.line + 1, start.column + 1, length))
