"""Shared helpers for the CloudFormation resource handlers of the patch modules.

Moto maps a CloudFormation resource type to a ``CloudFormationModel`` subclass
(``moto/cloudformation/parsing.py``: ``get_model_map()`` built from
``CloudFormationModel.__subclasses__()``).  The lab adds types moto lacks and
replaces handlers moto gets wrong through :func:`register`; the patched
``parsing.resource_class_from_type`` (see ``cloudformation.py``) looks here first.

A handler class may also define:

* ``irlab_delete(resource, props, account_id, region_name)`` - how the stack
  engine deletes the resource (``props`` are the resolved Properties the
  resource was created or last updated with);
* ``irlab_update(resource, old_props, new_props, logical_id, account_id,
  region_name)`` - in-place update; return the (possibly new) resource object,
  or raise :class:`NeedsReplacement`;
* ``irlab_tag(resource, tags, account_id, region_name)`` - apply the stack-level
  tags CloudFormation propagates (see :data:`TAGGERS` for moto's own types).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

OVERRIDES: dict[str, type] = {}

# Tag propagation for resource types whose handler stays moto's own class:
# cfn type -> fn(resource, tags: dict[str, str], account_id, region_name)
TAGGERS: dict[str, Callable[[Any, dict[str, str], str, str], None]] = {}

# Resource types whose stack-level tags must not carry the reserved
# aws:cloudformation:* keys (the service refuses the aws: prefix).
NO_AWS_PREFIX_TAGS: set[str] = set()


class NeedsReplacement(Exception):
    """Raised by an ``irlab_update`` when the change requires a new resource."""


class IdResource:
    """Mixin for a resource CloudFormation knows only by an id: ``Ref`` and ``GetAtt Id`` both
    answer ``self.id`` (policy attachments, route table associations). Put it before
    ``CloudFormationModel`` in the bases, so the class stays a model moto can list."""

    id: str

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Id":
            return self.id
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()


def register(cls: type) -> type:
    OVERRIDES[cls.cloudformation_type()] = cls  # type: ignore[attr-defined]
    return cls


def register_tagger(cfn_type: str) -> Callable[[Callable], Callable]:
    def deco(fn: Callable) -> Callable:
        TAGGERS[cfn_type] = fn
        return fn

    return deco


def as_bool(value: Any, default: bool = False) -> bool:
    """CloudFormation passes booleans as YAML booleans or as "true"/"false"."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def as_int(value: Any, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    return int(value)


def tag_list_to_dict(tags: Any) -> dict[str, str]:
    if not tags:
        return {}
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags}


def policy_text(document: Any) -> str:
    if isinstance(document, str):
        return document
    return json.dumps(document)


def props_of(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return cloudformation_json.get("Properties") or {}


# --------------------------------------------------------------------------
# literal nulls in Json-typed properties
#
# moto's ``parsing.clean_json`` drops every key whose value resolves to None,
# which is right for ``Ref: AWS::NoValue`` but not for a literal ``null`` in a
# JSON document property (``ResultPath: null`` in a state machine
# ``Definition``): CloudFormation passes those on.

KEEP_NULLS: dict[str, set[str]] = {}


class _Null:
    def __repr__(self) -> str:
        return "null"


_NULL = _Null()


def _mark_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _NULL if v is None else _mark_nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_NULL if v is None else _mark_nulls(v) for v in value]
    return value


def _unmark_nulls(value: Any) -> Any:
    if value is _NULL:
        return None
    if isinstance(value, dict):
        return {k: _unmark_nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unmark_nulls(v) for v in value]
    return value


def keep_literal_nulls(cfn_type: str, prop: str) -> None:
    """Keep literal nulls inside ``prop`` of resources of ``cfn_type``."""
    from moto.cloudformation import parsing

    KEEP_NULLS.setdefault(cfn_type, set()).add(prop)
    if getattr(parsing.clean_json, "irlab_keeps_nulls", False):
        return
    original = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if (
            isinstance(resource_json, dict)
            and resource_json.get("Type") in KEEP_NULLS
            and isinstance(resource_json.get("Properties"), dict)
        ):
            props = dict(resource_json["Properties"])
            for name in KEEP_NULLS[resource_json["Type"]]:
                if name in props:
                    props[name] = _mark_nulls(props[name])
            return _unmark_nulls(original({**resource_json, "Properties": props}, resources_map))
        return original(resource_json, resources_map)

    clean_json.irlab_keeps_nulls = True  # type: ignore[attr-defined]
    parsing.clean_json = clean_json
