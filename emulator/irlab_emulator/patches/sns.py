"""SNS: ``AWS::SNS::Subscription`` and ``AWS::SNS::TopicPolicy`` (moto skips
both), and an ``AWS::SNS::Topic`` that keeps its ARN on update and gets its
``Tags`` as tags.

* Subscription: subscribes ``Endpoint`` with ``Protocol`` to ``TopicArn`` and
  sets ``RawMessageDelivery``, ``FilterPolicy`` (+``FilterPolicyScope``),
  ``RedrivePolicy``, ``DeliveryPolicy``; ``Ref`` is the subscription ARN;
  delete unsubscribes.
* TopicPolicy: sets the ``Policy`` attribute of every topic in ``Topics``;
  delete restores SNS's default topic policy.

Lambda subscriptions (``Protocol: lambda``): moto handed every message to
``send_sns_message``, which sent a fixed sample event (``TopicArn``
``arn:aws:sns:EXAMPLE``, invented message attributes) through a synchronous
Docker invocation - no Docker here, so the function never ran - and checked no
permission.  Here, as SNS does:

* the function's resource-based policy must let ``sns.amazonaws.com`` do
  ``lambda:InvokeFunction`` (conditions on ``aws:SourceArn`` = the topic ARN
  and ``aws:SourceAccount`` = the topic's account are evaluated, as
  ``AddPermission``/``AWS::Lambda::Permission`` with ``SourceArn`` writes
  them); without it, or when the function does not exist, the message is not
  delivered (logged on ``irlab_emulator.sns``, counted in CloudWatch
  ``AWS/SNS`` ``NumberOfNotificationsFailed``; a delivery counts in
  ``NumberOfNotificationsDelivered``; dimension ``TopicName``);
* the function is invoked asynchronously (``Event``) through the stand-in's
  Lambda runner (``awslambda.invoke_async``), so its output lands in its log
  group; the filter policy and ``MessageStructure: json`` (the ``lambda`` or
  ``default`` entry) apply first;
* the event is SNS's: ``{"Records": [{"EventSource": "aws:sns",
  "EventVersion": "1.0", "EventSubscriptionArn", "Sns": {"Type":
  "Notification", "MessageId", "TopicArn", "Subject" (null without one),
  "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertUrl",
  "UnsubscribeUrl", "MessageAttributes" ({name: {"Type", "Value"}})}}]}``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.sns.exceptions import TopicNotFound
from moto.sns.models import Subscription, Topic, sns_backends
from moto.utilities.arns import parse_arn

from . import _cfn, _policy

log = logging.getLogger("irlab_emulator.sns")

TOPIC_ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "SignatureVersion", "TracingConfig")


def _backend(account_id: str, region_name: str) -> Any:
    return sns_backends[account_id][region_name]


class TopicHandler(Topic):
    """AWS::SNS::Topic"""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Topic:
        props = _cfn.props_of(cloudformation_json)
        backend = _backend(account_id, region_name)
        attributes: dict[str, Any] = {k: props[k] for k in TOPIC_ATTRIBUTES if k in props}
        if _cfn.as_bool(props.get("FifoTopic")):
            attributes["FifoTopic"] = True
            if "ContentBasedDeduplication" in props:
                attributes["ContentBasedDeduplication"] = _cfn.as_bool(props["ContentBasedDeduplication"])
        topic = backend.create_topic(
            resource_name, attributes, _cfn.tag_list_to_dict(props.get("Tags")) or None
        )
        for subscription in props.get("Subscription") or []:
            backend.subscribe(topic.arn, subscription["Endpoint"], subscription["Protocol"])
        return topic

    @classmethod
    def irlab_update(
        cls, topic: Topic, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> Topic:
        for key in ("TopicName", "FifoTopic"):
            if old_props.get(key) != new_props.get(key):
                raise _cfn.NeedsReplacement()
        backend = _backend(account_id, region_name)
        for key in TOPIC_ATTRIBUTES:
            if old_props.get(key) != new_props.get(key):
                backend.set_topic_attribute(topic.arn, key, new_props.get(key, ""))
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        gone = [k for k in old_tags if k not in new_tags]
        if gone:
            backend.untag_resource(topic.arn, gone)
        if new_tags:
            backend.tag_resource(topic.arn, new_tags)
        old_subs = {(s["Endpoint"], s["Protocol"]) for s in old_props.get("Subscription") or []}
        for subscription in new_props.get("Subscription") or []:
            if (subscription["Endpoint"], subscription["Protocol"]) not in old_subs:
                backend.subscribe(topic.arn, subscription["Endpoint"], subscription["Protocol"])
        return topic

    @classmethod
    def irlab_tag(cls, topic: Topic, tags: dict[str, str], account_id: str, region_name: str) -> None:
        new = {k: v for k, v in tags.items() if k.startswith("aws:") or k not in topic._tags}
        if new:
            _backend(account_id, region_name).tag_resource(topic.arn, new)


class SubscriptionResource(CloudFormationModel):
    """AWS::SNS::Subscription (Ref: the subscription ARN)."""

    def __init__(self, arn: str, topic_arn: str):
        self.arn = arn
        self.topic_arn = topic_arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @staticmethod
    def _set_attributes(backend: Any, arn: str, props: dict[str, Any], old: dict[str, Any] | None = None) -> None:
        old = old or {}
        if "FilterPolicyScope" in props or "FilterPolicyScope" in old:
            backend.set_subscription_attributes(arn, "FilterPolicyScope", props.get("FilterPolicyScope", "MessageAttributes"))
        for key in ("RawMessageDelivery", "FilterPolicy", "RedrivePolicy", "DeliveryPolicy", "SubscriptionRoleArn"):
            if key not in props and key not in old:
                continue
            value = props.get(key)
            if key == "RawMessageDelivery":
                value = _cfn.as_bool(value)  # stored as a bool, like SetSubscriptionAttributes
            elif isinstance(value, (dict, list)):
                value = json.dumps(value)
            elif value is None:
                value = ""
            backend.set_subscription_attributes(arn, key, value)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SubscriptionResource:
        props = _cfn.props_of(cloudformation_json)
        backend = _backend(account_id, region_name)
        subscription = backend.subscribe(props["TopicArn"], props.get("Endpoint"), props["Protocol"])
        try:
            cls._set_attributes(backend, subscription.arn, props)
        except Exception:
            backend.unsubscribe(subscription.arn)
            raise
        return cls(subscription.arn, props["TopicArn"])

    @classmethod
    def irlab_update(
        cls, resource: SubscriptionResource, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> SubscriptionResource:
        for key in ("TopicArn", "Endpoint", "Protocol", "Region"):
            if old_props.get(key) != new_props.get(key):
                raise _cfn.NeedsReplacement()
        cls._set_attributes(_backend(account_id, region_name), resource.arn, new_props, old_props)
        return resource

    @classmethod
    def irlab_delete(cls, resource: SubscriptionResource, props: dict[str, Any], account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).unsubscribe(resource.arn)


class TopicPolicyResource(_cfn.IdResource, CloudFormationModel):
    """AWS::SNS::TopicPolicy"""

    def __init__(self, policy_id: str, topics: list[str]):
        self.id = policy_id
        self.topics = topics

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @staticmethod
    def _put(backend: Any, topics: list[str], document: Any) -> None:
        text = _cfn.policy_text(document)
        for topic_arn in topics:
            backend.get_topic(topic_arn).policy = text

    @staticmethod
    def _reset(backend: Any, topics: list[str], account_id: str, region_name: str) -> None:
        for topic_arn in topics:
            try:
                topic = backend.get_topic(topic_arn)
            except TopicNotFound:
                continue
            topic._policy_json = topic._create_default_topic_policy(region_name, account_id, topic.name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> TopicPolicyResource:
        props = _cfn.props_of(cloudformation_json)
        topics = list(props.get("Topics") or [])
        cls._put(_backend(account_id, region_name), topics, props["PolicyDocument"])
        return cls(resource_name, topics)

    @classmethod
    def irlab_update(
        cls, resource: TopicPolicyResource, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> TopicPolicyResource:
        backend = _backend(account_id, region_name)
        new_topics = list(new_props.get("Topics") or [])
        cls._reset(backend, [t for t in resource.topics if t not in new_topics], account_id, region_name)
        cls._put(backend, new_topics, new_props["PolicyDocument"])
        resource.topics = new_topics
        return resource

    @classmethod
    def irlab_delete(cls, resource: TopicPolicyResource, props: dict[str, Any], account_id: str, region_name: str) -> None:
        cls._reset(_backend(account_id, region_name), resource.topics, account_id, region_name)


# --------------------------------------------------------------------------
# Lambda subscriptions


class LambdaDeliveryFailure(Exception):
    pass


def _metric(subscription: Subscription, name: str) -> None:
    try:
        from moto.cloudwatch.models import cloudwatch_backends

        topic = subscription.topic
        datum = {
            "MetricName": name,
            "Value": 1.0,
            "Unit": "Count",
            "Dimensions": [{"Name": "TopicName", "Value": topic.name}],
        }
        cloudwatch_backends[topic.account_id][topic.sns_backend.region_name].put_metric_data("AWS/SNS", [datum])
    except Exception:  # noqa: BLE001 - metrics must never break delivery
        log.debug("could not record metric %s", name, exc_info=True)


def lambda_event(
    subscription: Subscription,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: dict[str, Any] | None,
) -> dict[str, Any]:
    """The event SNS gives a subscribed function for one message."""
    topic = subscription.topic
    region = topic.sns_backend.region_name
    signed = subscription.get_post_data(message, message_id, subject)  # moto's signature and certificate
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic.arn,
                    "Subject": subject if subject else None,
                    "Message": message,
                    "Timestamp": signed["Timestamp"],
                    "SignatureVersion": signed["SignatureVersion"],
                    "Signature": signed["Signature"],
                    "SigningCertUrl": signed["SigningCertURL"],
                    "UnsubscribeUrl": (
                        f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription.arn}"
                    ),
                    "MessageAttributes": {
                        name: {"Type": value.get("Type"), "Value": value.get("Value")}
                        for name, value in (message_attributes or {}).items()
                    },
                },
            }
        ]
    }


def _function(subscription: Subscription) -> Any:
    from moto.awslambda.models import lambda_backends

    try:
        arn = parse_arn(subscription.endpoint)
    except Exception as exc:  # noqa: BLE001
        raise LambdaDeliveryFailure(f"endpoint {subscription.endpoint} is not a function ARN") from exc
    if arn.service != "lambda" or arn.resource_type != "function":
        raise LambdaDeliveryFailure(f"endpoint {subscription.endpoint} is not a function ARN")
    name, _, qualifier = arn.resource_id.partition(":")
    account = arn.account or subscription.account_id
    region = arn.region or subscription.topic.sns_backend.region_name
    try:
        return lambda_backends[account][region].get_function(name, qualifier or None)
    except Exception as exc:  # noqa: BLE001 - UnknownFunctionException and friends
        raise LambdaDeliveryFailure(f"function {subscription.endpoint} does not exist") from exc


def _check_permission(subscription: Subscription, fn: Any) -> None:
    statements = getattr(getattr(fn, "policy", None), "statements", None) or []
    topic = subscription.topic
    context = {
        "aws:SourceArn": topic.arn,
        "aws:SourceAccount": topic.account_id,
        "aws:SecureTransport": "true",
    }
    try:
        allowed = _policy.service_allows(
            {"Version": "2012-10-17", "Statement": statements} if statements else None,
            "lambda:InvokeFunction",
            "sns.amazonaws.com",
            context,
            fn.function_arn,
        )
    except _policy.Unevaluable as exc:
        log.error("subscription %s: cannot evaluate the policy of %s: %s", subscription.arn, fn.function_arn, exc)
        raise LambdaDeliveryFailure(f"the irlab stand-in cannot evaluate the resource-based policy of {fn.function_arn}: {exc}") from exc
    if not allowed:
        raise LambdaDeliveryFailure(
            f"SNS is not authorized to invoke {subscription.endpoint}: the function's resource-based policy does not "
            f"allow the service principal sns.amazonaws.com (lambda:InvokeFunction) for topic {topic.arn}"
        )


def deliver_to_lambda(
    subscription: Subscription,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: dict[str, Any] | None,
) -> None:
    from . import awslambda

    try:
        fn = _function(subscription)
        _check_permission(subscription, fn)
        event = lambda_event(subscription, message, message_id, subject, message_attributes)
        if awslambda.runs_locally(fn):
            awslambda.invoke_async(fn, event)
        else:
            fn.invoke(json.dumps(event), {"x-amz-invocation-type": "Event"}, {})
    except LambdaDeliveryFailure as failure:
        log.warning("subscription %s: message %s not delivered: %s", subscription.arn, message_id, failure)
        _metric(subscription, "NumberOfNotificationsFailed")
        return
    except Exception as exc:  # noqa: BLE001 - a delivery failure must not fail Publish
        log.warning("subscription %s: message %s not delivered: %s: %s", subscription.arn, message_id, type(exc).__name__, exc)
        _metric(subscription, "NumberOfNotificationsFailed")
        return
    _metric(subscription, "NumberOfNotificationsDelivered")


_orig_subscription_publish = Subscription.publish


def _subscription_publish(
    self: Subscription,
    message: str,
    message_id: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    if self.protocol != "lambda":
        return _orig_subscription_publish(
            self,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
    if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(message_attributes, message):
        return None
    if message_structure == "json":
        message = self._parse_message_structure(message, self.protocol)
    deliver_to_lambda(self, message, message_id, subject, message_attributes)
    return None


def apply() -> None:
    Subscription.publish = _subscription_publish  # type: ignore[method-assign]
    _cfn.register(TopicHandler)
    _cfn.register(SubscriptionResource)
    _cfn.register(TopicPolicyResource)
