"""SQS: ``AWS::SQS::QueuePolicy`` (moto skips it), queue attribute fixes.

* QueuePolicy sets the ``Policy`` attribute of each queue (by URL) in
  ``Queues``; delete removes it.
* ``SetQueueAttributes`` without ``Policy`` keeps the queue's policy (moto
  reset it to empty on any attribute change).
* ``AWS::SQS::Queue`` boolean properties (``SqsManagedSseEnabled``,
  ``FifoQueue``, ...) read back as ``"true"``/``"false"`` like AWS.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.sqs.exceptions import QueueDoesNotExist
from moto.sqs.models import Queue, sqs_backends

from . import _cfn


def _backend(account_id: str, region_name: str) -> Any:
    return sqs_backends[account_id][region_name]


def _queue_name(url_or_name: str) -> str:
    return url_or_name.rstrip("/").split("/")[-1]


_orig_set_attributes = Queue._set_attributes


def _set_attributes(self: Queue, attributes: dict[str, Any], now: float | None = None) -> None:
    if "Policy" in attributes or not hasattr(self, "_policy_json"):
        return _orig_set_attributes(self, attributes, now)
    kept = self.policy
    _orig_set_attributes(self, attributes, now)
    self.policy = kept


class QueueHandler(Queue):
    """AWS::SQS::Queue"""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Queue:
        cfn = dict(cloudformation_json)
        props = dict(_cfn.props_of(cloudformation_json))
        for key, value in list(props.items()):
            if isinstance(value, bool):
                props[key] = "true" if value else "false"
        cfn["Properties"] = props
        return Queue.create_from_cloudformation_json(resource_name, cfn, account_id, region_name, **kwargs)

    ATTRIBUTES = (
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
        "RedrivePolicy",
        "RedriveAllowPolicy",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        "SqsManagedSseEnabled",
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "FifoThroughputLimit",
    )

    @classmethod
    def irlab_update(
        cls, queue: Queue, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> Queue:
        for key in ("QueueName", "FifoQueue"):
            if old_props.get(key) != new_props.get(key):
                raise _cfn.NeedsReplacement()
        backend = _backend(account_id, region_name)
        changed: dict[str, Any] = {}
        for key in cls.ATTRIBUTES:
            if old_props.get(key) == new_props.get(key) or key not in new_props:
                continue
            value = new_props[key]
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (dict, list)):
                import json

                value = json.dumps(value)
            changed[key] = str(value)
        if changed:
            backend.set_queue_attributes(queue.name, changed)
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        gone = [k for k in old_tags if k not in new_tags]
        if gone:
            backend.untag_queue(queue.name, gone)
        if new_tags:
            backend.tag_queue(queue.name, new_tags)
        return queue

    @classmethod
    def irlab_tag(cls, queue: Queue, tags: dict[str, str], account_id: str, region_name: str) -> None:
        new = {k: v for k, v in tags.items() if k.startswith("aws:") or k not in queue.tags}
        if new:
            _backend(account_id, region_name).tag_queue(queue.name, new)


class QueuePolicyResource(_cfn.IdResource, CloudFormationModel):
    """AWS::SQS::QueuePolicy"""

    def __init__(self, policy_id: str, queues: list[str]):
        self.id = policy_id
        self.queues = queues

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @staticmethod
    def _set(backend: Any, queues: list[str], policy: str) -> None:
        for queue in queues:
            backend.set_queue_attributes(_queue_name(queue), {"Policy": policy})

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> QueuePolicyResource:
        props = _cfn.props_of(cloudformation_json)
        queues = list(props.get("Queues") or [])
        cls._set(_backend(account_id, region_name), queues, _cfn.policy_text(props["PolicyDocument"]))
        return cls(resource_name, queues)

    @classmethod
    def irlab_update(
        cls, resource: QueuePolicyResource, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> QueuePolicyResource:
        backend = _backend(account_id, region_name)
        new_queues = list(new_props.get("Queues") or [])
        cls._remove(backend, [q for q in resource.queues if q not in new_queues])
        cls._set(backend, new_queues, _cfn.policy_text(new_props["PolicyDocument"]))
        resource.queues = new_queues
        return resource

    @staticmethod
    def _remove(backend: Any, queues: list[str]) -> None:
        for queue in queues:
            try:
                backend.set_queue_attributes(_queue_name(queue), {"Policy": ""})
            except QueueDoesNotExist:
                pass

    @classmethod
    def irlab_delete(cls, resource: QueuePolicyResource, props: dict[str, Any], account_id: str, region_name: str) -> None:
        cls._remove(_backend(account_id, region_name), resource.queues)


def apply() -> None:
    Queue._set_attributes = _set_attributes
    _cfn.register(QueueHandler)
    _cfn.register(QueuePolicyResource)
