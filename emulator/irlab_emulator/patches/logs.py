"""CloudWatch Logs: ``AWS::Logs::LogGroup`` as CloudFormation manages it.

moto creates the group with ``RetentionInDays`` and ``Tags`` but cannot
update it (a change to the retention replaced the group, and the new one
collided with the old name), gives it no stack tags, and leaves its tags
behind when the group is deleted.  Here the group is updated in place
(``RetentionInDays``, ``Tags``; a new ``LogGroupName`` replaces it), gets the
stack tags, and deleting it removes its tags too; ``Ref`` is the name,
``GetAtt Arn`` the ARN ending in ``:*``, as CloudFormation documents.
"""

from __future__ import annotations

from typing import Any

from moto.logs.models import LogGroup, logs_backends

from . import _cfn


def _backend(account_id: str, region_name: str) -> Any:
    return logs_backends[account_id][region_name]


class LogGroupHandler(LogGroup):
    """AWS::Logs::LogGroup"""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LogGroup:
        props = _cfn.props_of(cloudformation_json)
        kwargs_: dict[str, Any] = {}
        if props.get("RetentionInDays") not in (None, ""):
            kwargs_["RetentionInDays"] = int(props["RetentionInDays"])
        if props.get("KmsKeyId"):
            kwargs_["kmsKeyId"] = props["KmsKeyId"]
        return _backend(account_id, region_name).create_log_group(
            resource_name, _cfn.tag_list_to_dict(props.get("Tags")), **kwargs_
        )

    @classmethod
    def irlab_update(
        cls, group: LogGroup, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> LogGroup:
        if old_props.get("LogGroupName") != new_props.get("LogGroupName"):
            raise _cfn.NeedsReplacement()
        backend = _backend(account_id, region_name)
        if old_props.get("RetentionInDays") != new_props.get("RetentionInDays"):
            if new_props.get("RetentionInDays") in (None, ""):
                backend.delete_retention_policy(group.name)
            else:
                backend.put_retention_policy(group.name, int(new_props["RetentionInDays"]))
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        gone = [k for k in old_tags if k not in new_tags]
        if gone:
            backend.untag_resource(group.arn, gone)
        if new_tags:
            backend.tag_resource(group.arn, new_tags)
        return group

    @classmethod
    def irlab_delete(cls, group: LogGroup, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if group.name in backend.groups:
            backend.delete_log_group(group.name)
        backend.tagger.delete_all_tags_for_resource(group.arn)

    @classmethod
    def irlab_tag(cls, group: LogGroup, tags: dict[str, str], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        existing = backend.list_tags_for_resource(group.arn)
        new = {k: v for k, v in tags.items() if k.startswith("aws:") or k not in existing}
        if new:
            backend.tag_resource(group.arn, new)


_orig_get_cfn_attribute = LogGroup.get_cfn_attribute


def _get_cfn_attribute(self: LogGroup, attribute_name: str) -> str:
    if attribute_name == "Arn":
        return f"{self.arn}:*"
    return _orig_get_cfn_attribute(self, attribute_name)


def apply() -> None:
    LogGroup.get_cfn_attribute = _get_cfn_attribute  # type: ignore[method-assign]
    _cfn.register(LogGroupHandler)
