"""Read a resource's properties out of a CloudFormation template (YAML with the
short-form intrinsics) with ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` and
``Fn::Base64`` resolved from given values - what CloudFormation hands the resource handler, without
deploying the template."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import yaml

_TAGS = ("Ref", "Sub", "GetAtt", "Join", "If", "Equals", "Select", "Split", "ImportValue", "FindInMap", "Not", "And", "Or", "Base64", "GetAZs")


class _Loader(yaml.SafeLoader):
    pass


def _constructor(tag: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if tag == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {"Ref" if tag == "Ref" else f"Fn::{tag}": value}

    return construct


for _tag in _TAGS:
    _Loader.add_constructor(f"!{_tag}", _constructor(_tag))


def resolve(value: Any, values: dict[str, Any]) -> Any:
    """``Ref`` / ``Fn::GetAtt`` (``"Logical.Attr"``) / ``Fn::Sub`` (string form)
    replaced from ``values``, ``Fn::Base64`` of what they give, ``Fn::Split``,
    ``Fn::If`` (the condition's value given as ``"Condition:NAME"``); other
    intrinsics fail."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return values[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            return values[".".join(value["Fn::GetAtt"])]
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(values[m.group(1)]), value["Fn::Sub"])
        if set(value) == {"Fn::Base64"}:
            return base64.b64encode(str(resolve(value["Fn::Base64"], values)).encode()).decode()
        if set(value) == {"Fn::Split"}:
            delimiter, text = value["Fn::Split"]
            return str(resolve(text, values)).split(delimiter)
        if set(value) == {"Fn::If"}:
            # the condition's value is given as "Condition:NAME"
            condition, if_true, if_false = value["Fn::If"]
            return resolve(if_true if values[f"Condition:{condition}"] else if_false, values)
        if any(k.startswith("Fn::") for k in value):
            raise ValueError(f"intrinsic not resolved here: {sorted(value)}")
        return {k: resolve(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, values) for v in value]
    return value


def properties(template: Path, logical_id: str, values: dict[str, Any]) -> dict[str, Any]:
    body = yaml.load(template.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    return resolve(body["Resources"][logical_id]["Properties"], values)
