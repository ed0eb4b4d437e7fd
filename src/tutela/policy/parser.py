"""Policy text -> `ParsedPolicy`, recording every problem on the way (YAML syntax, keys, types, values)."""

from __future__ import annotations

import re

import yaml

from tutela.policy.model import ParsedPolicy, Rule, RuleId, ScanSettings
from tutela.policy.parse_actions import parse_actions
from tutela.policy.parse_conditions import parse_condition
from tutela.policy.problems import Problems, Span
from tutela.policy.yamlnodes import Reader, span

GRAMMAR_VERSION = 1
TOP_KEYS = ("version", "name", "description", "scanning", "rules")
SCANNING_KEYS = ("private_surfaces", "eu_private_messages")
RULE_KEYS = ("id", "description", "when", "then", "shadow")

_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")

_QUOTE_COMPARISON = 'quote comparisons that start with >: quality: ">= 50"'
_SYNTAX_HINTS = {
    "expected chomping or indentation indicators": _QUOTE_COMPARISON,
    "found character '>'": _QUOTE_COMPARISON,
    "found character '\\t'": "indent with spaces, not tabs",
    "cannot start any token": "quote values that start with @ or `",
    "mapping values are not allowed here": "put a space after every ':' and quote values that contain ': '",
}


def parse(text: str, problems: Problems) -> ParsedPolicy | None:
    """The policy as far as it could be read (rules with problems left out), or None when nothing could be.

    The caller runs the checks over what was read, then refuses the policy if `problems` holds anything.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Span(mark.line + 1, mark.column + 1) if mark else Span(1, 1)
        message = exc.problem or exc.context or "invalid YAML"
        hint = next((h for key, h in _SYNTAX_HINTS.items() if key in message), None)
        problems.add(where, f"YAML syntax error: {message}", hint)
        return None
    if root is None:
        problems.add(
            Span(1, 1), "the policy file is empty", "a policy needs at least `version: 1` and `rules:`"
        )
        return None
    reader = Reader(problems)
    top = reader.mapping(root, "the policy", TOP_KEYS, required=("version", "rules"))
    if top is None:
        return None
    if "version" in top:
        node = top["version"][1]
        version = reader.integer(node, "version")
        if version is not None and version != GRAMMAR_VERSION:
            reader.error(
                node, f"unknown grammar version {version}", f"this Tutela reads `version: {GRAMMAR_VERSION}`"
            )
    name = ""
    for key in ("name", "description"):
        if key in top:
            value = reader.string(top[key][1], key)
            if key == "name" and value is not None:
                name = value
    scanning = _scanning(reader, top["scanning"][1]) if "scanning" in top else ScanSettings()
    rules, ids = _rules(reader, top["rules"][1]) if "rules" in top else ((), ())
    return ParsedPolicy(rules, scanning or ScanSettings(), name, ids)


def _scanning(reader: Reader, node: yaml.Node) -> ScanSettings | None:
    entries = reader.mapping(node, "'scanning'", SCANNING_KEYS)
    if entries is None:
        return None
    settings = ScanSettings()
    if "private_surfaces" in entries:
        values = reader.strings(entries["private_surfaces"][1], "private_surfaces")
        if values is not None:
            settings = ScanSettings(frozenset(v for v, _ in values), settings.eu_private_messages)
    if "eu_private_messages" in entries:
        node = entries["eu_private_messages"][1]
        enabled: bool | frozenset[str] | None
        if isinstance(node, yaml.SequenceNode):
            services = reader.strings(node, "a service in eu_private_messages")
            enabled = None if services is None else frozenset(v for v, _ in services)
        else:
            enabled = reader.boolean(node, "eu_private_messages (true, false or a list of services)")
        if enabled is not None:
            settings = ScanSettings(settings.private_surfaces, enabled)
    return settings


def _rules(reader: Reader, node: yaml.Node) -> tuple[tuple[Rule, ...], tuple[RuleId, ...]]:
    items = list(reader.items(node, "'rules'"))
    if isinstance(node, yaml.SequenceNode) and not items:
        reader.error(node, "'rules' is empty", "a policy needs at least one rule")
    ids: list[RuleId] = []
    rules = [_rule(reader, item, ids) for item in items]
    return tuple(rule for rule in rules if rule is not None), tuple(ids)


def _rule(reader: Reader, node: yaml.Node, ids: list[RuleId]) -> Rule | None:
    entries = reader.mapping(node, "a rule", RULE_KEYS, required=("id", "when", "then"))
    if entries is None:
        return None
    rule_id = None
    if "id" in entries:
        id_node = entries["id"][1]
        rule_id = reader.string(id_node, "a rule id")
        if rule_id is not None and not _RULE_ID.match(rule_id):
            reader.error(
                id_node,
                f"rule id {rule_id!r} is not a valid id",
                "use lower-case letters, digits, '-', '_' and '.', starting with a letter or digit",
            )
            rule_id = None
        if rule_id is not None:
            ids.append(RuleId(rule_id, span(id_node)))
    description = ""
    if "description" in entries:
        description = reader.string(entries["description"][1], "description") or ""
    shadow: bool | None = False
    if "shadow" in entries:
        shadow = reader.boolean(entries["shadow"][1], "shadow")
    when = parse_condition(reader, entries["when"][1], "'when'") if "when" in entries else None
    then = parse_actions(reader, entries["then"][1]) if "then" in entries else None
    if rule_id is None or when is None or then is None or shadow is None:
        return None
    return Rule(rule_id, when, then, shadow, description, span(entries["id"][1]))
