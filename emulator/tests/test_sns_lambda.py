"""SNS -> Lambda subscriptions (patches/sns.py): the function runs on Publish
through the stand-in's Lambda runner, only when its resource policy lets SNS
invoke it, with SNS's event."""

from __future__ import annotations

import datetime
import json

from conftest import ACCOUNT_ID, REGION, create_stack, template, unique, wait_idle
from iam_roles import service_role
from test_lambda import _log_lines, _zip

ECHO = '''import json

def handler(event, context):
    print("EVENT " + json.dumps(event, sort_keys=True))
'''


def _echo_function(aws, name: str) -> str:
    role = service_role(aws("iam"), "lambda.amazonaws.com", unique("sns-fn-role"))
    return aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": _zip(ECHO)},
        Timeout=5,
    )["FunctionArn"]


def _events_seen(logs, group: str) -> list[dict]:
    try:
        lines = _log_lines(logs, group)
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(line[len("EVENT ") :]) for line in lines if line.startswith("EVENT ")]


def _metric_sum(cw, name: str, topic_name: str) -> float:
    now = datetime.datetime.now(datetime.timezone.utc)
    points = cw.get_metric_statistics(
        Namespace="AWS/SNS",
        MetricName=name,
        Dimensions=[{"Name": "TopicName", "Value": topic_name}],
        StartTime=now - datetime.timedelta(minutes=10),
        EndTime=now + datetime.timedelta(minutes=10),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_publish_invokes_the_subscribed_function_with_the_sns_event(aws, emulator):
    """A message published to a topic with a `lambda` subscription invokes the
    function asynchronously with SNS's event: {"Records": [{"EventSource":
    "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn", "Sns": {"Type":
    "Notification", "MessageId" (Publish's), "TopicArn", "Subject" (null when
    the message has none), "Message", "Timestamp", "SignatureVersion",
    "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes"
    ({name: {"Type", "Value"}})}}]}. The function's output goes to its log group.
    https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html (example notification event; SNS invokes asynchronously)
    https://docs.aws.amazon.com/sns/latest/dg/sns-lambda-as-subscriber.html
    https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-services.html (sns.amazonaws.com + SourceArn)
    """
    sns, lam, logs = aws("sns"), aws("lambda"), aws("logs")
    name = unique("sns-echo")
    fn_arn = _echo_function(aws, name)
    topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
    lam.add_permission(
        FunctionName=name,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)["SubscriptionArn"]

    first = sns.publish(
        TopicArn=topic,
        Subject="GuardDuty finding",
        Message='{"findingId": "abc-123"}',
        MessageAttributes={"severity": {"DataType": "Number", "StringValue": "8"}},
    )["MessageId"]
    second = sns.publish(TopicArn=topic, Message="plain text")["MessageId"]
    wait_idle(emulator.endpoint)

    events = _events_seen(logs, f"/aws/lambda/{name}")
    assert len(events) == 2
    by_id = {e["Records"][0]["Sns"]["MessageId"]: e for e in events}
    assert set(by_id) == {first, second}

    event = by_id[first]
    assert list(event) == ["Records"] and len(event["Records"]) == 1
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription
    message = record["Sns"]
    assert set(message) == {
        "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
        "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes",
    }
    assert message["Type"] == "Notification"
    assert message["TopicArn"] == topic
    assert message["Subject"] == "GuardDuty finding"
    assert message["Message"] == '{"findingId": "abc-123"}'
    assert message["MessageAttributes"] == {"severity": {"Type": "Number", "Value": "8"}}
    assert message["Signature"] and message["SigningCertUrl"].startswith(f"https://sns.{REGION}.amazonaws.com/")
    assert message["UnsubscribeUrl"].endswith(f"SubscriptionArn={subscription}")
    published = datetime.datetime.strptime(message["Timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(published - datetime.datetime.utcnow()) < datetime.timedelta(minutes=1)

    plain = by_id[second]["Records"][0]["Sns"]
    assert plain["Subject"] is None
    assert plain["Message"] == "plain text"
    assert plain["MessageAttributes"] == {}

    cw = aws("cloudwatch")
    topic_name = topic.rsplit(":", 1)[1]
    assert _metric_sum(cw, "NumberOfNotificationsDelivered", topic_name) == 2
    assert _metric_sum(cw, "NumberOfNotificationsFailed", topic_name) == 0


def test_delivery_needs_a_resource_policy_that_lets_sns_invoke_for_this_topic(aws, emulator):
    """SNS invokes a function only when the function's resource-based policy
    allows the service principal sns.amazonaws.com lambda:InvokeFunction; a
    SourceArn (aws:SourceArn condition) naming another topic does not. Without
    the permission the message is not delivered (SNS counts it in
    NumberOfNotificationsFailed) and Publish still succeeds.
    https://docs.aws.amazon.com/sns/latest/dg/sns-lambda-as-subscriber.html
    https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-services.html
    https://docs.aws.amazon.com/sns/latest/dg/sns-monitoring-using-cloudwatch.html (NumberOfNotificationsFailed)
    """
    sns, lam, logs, cw = aws("sns"), aws("lambda"), aws("logs"), aws("cloudwatch")
    name = unique("sns-echo")
    fn_arn = _echo_function(aws, name)
    topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
    other = sns.create_topic(Name=unique("other"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    group = f"/aws/lambda/{name}"
    topic_name = topic.rsplit(":", 1)[1]

    # no policy at all
    assert sns.publish(TopicArn=topic, Message="m1")["MessageId"]
    wait_idle(emulator.endpoint)
    assert _events_seen(logs, group) == []

    # a permission for another topic, and one for another service
    lam.add_permission(
        FunctionName=name, StatementId="other-topic", Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com", SourceArn=other,
    )
    lam.add_permission(
        FunctionName=name, StatementId="events", Action="lambda:InvokeFunction", Principal="events.amazonaws.com",
    )
    sns.publish(TopicArn=topic, Message="m2")
    wait_idle(emulator.endpoint)
    assert _events_seen(logs, group) == []
    assert _metric_sum(cw, "NumberOfNotificationsFailed", topic_name) == 2

    # the documented permission: principal sns.amazonaws.com, SourceArn = the topic
    lam.add_permission(
        FunctionName=name, StatementId="this-topic", Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com", SourceArn=topic, SourceAccount=ACCOUNT_ID,
    )
    sns.publish(TopicArn=topic, Message="m3")
    wait_idle(emulator.endpoint)
    assert [e["Records"][0]["Sns"]["Message"] for e in _events_seen(logs, group)] == ["m3"]
    assert _metric_sum(cw, "NumberOfNotificationsDelivered", topic_name) == 1

    # a subscription to a function that does not exist fails the same way
    sns.subscribe(TopicArn=other, Protocol="lambda", Endpoint=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{unique('gone')}")
    assert sns.publish(TopicArn=other, Message="m4")["MessageId"]
    wait_idle(emulator.endpoint)
    assert _metric_sum(cw, "NumberOfNotificationsFailed", other.rsplit(":", 1)[1]) == 1


def test_filter_policy_applies_to_lambda_subscriptions(aws, emulator):
    """A subscription filter policy decides which messages reach the function;
    MessageStructure=json delivers the `lambda` entry (else `default`).
    https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html
    https://docs.aws.amazon.com/sns/latest/api/API_Publish.html (MessageStructure)
    """
    sns, lam, logs = aws("sns"), aws("lambda"), aws("logs")
    name = unique("sns-echo")
    fn_arn = _echo_function(aws, name)
    topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
    lam.add_permission(
        FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction", Principal="sns.amazonaws.com", SourceArn=topic,
    )
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)["SubscriptionArn"]
    sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="FilterPolicy", AttributeValue=json.dumps({"severity": [{"numeric": [">=", 7]}]})
    )
    sns.publish(TopicArn=topic, Message="low", MessageAttributes={"severity": {"DataType": "Number", "StringValue": "2"}})
    sns.publish(
        TopicArn=topic,
        MessageStructure="json",
        Message=json.dumps({"default": "for everyone", "lambda": "for functions"}),
        MessageAttributes={"severity": {"DataType": "Number", "StringValue": "8"}},
    )
    wait_idle(emulator.endpoint)
    assert [e["Records"][0]["Sns"]["Message"] for e in _events_seen(logs, f"/aws/lambda/{name}")] == ["for functions"]


def test_cfn_audit_recorder_prints_sns_records_and_events_into_the_audit_log_group(aws, emulator):
    """The audit recorder of the lab: AWS::Lambda::Function with
    LoggingConfig.LogGroup, AWS::Lambda::Permission for sns.amazonaws.com with
    SourceArn = the topic and for events.amazonaws.com with SourceArn = the rule,
    AWS::SNS::Subscription (Protocol lambda) and an AWS::Events::Rule target.
    A published message and a matching event each run the function, whose
    print() lines land in the audit log group.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-subscription.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-permission.html
    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html (LoggingConfig.LogGroup)
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-lambda-permissions
    """
    cf, sns, events, logs = aws("cloudformation"), aws("sns"), aws("events"), aws("logs")
    stack = unique("audit")
    created = create_stack(cf, stack, template("audit_recorder.yaml"))
    assert created["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in created["Outputs"]}
    topic, group = outputs["TopicArn"], outputs["LogGroupName"]
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["SubscriptionArn"]) for s in subs] == [("lambda", outputs["SubscriptionArn"])]

    message_id = sns.publish(TopicArn=topic, Subject="IR alert", Message="finding abc-123 contained")["MessageId"]
    put = events.put_events(
        Entries=[{"Source": "irlab.simulation", "DetailType": "GuardDuty Finding", "Detail": json.dumps({"id": "abc-123"})}]
    )
    event_id = put["Entries"][0]["EventId"]
    wait_idle(emulator.endpoint)

    records = [json.loads(line) for line in _log_lines(logs, group) if line.startswith("{")]
    assert {
        "kind": "sns",
        "topicArn": topic,
        "messageId": message_id,
        "subject": "IR alert",
        "message": "finding abc-123 contained",
    } in records
    assert {
        "kind": "event",
        "id": event_id,
        "source": "irlab.simulation",
        "detailType": "GuardDuty Finding",
        "findingId": "abc-123",
    } in records
    assert len(records) == 2
    assert not logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{outputs['FunctionName']}")["logGroups"]

    cf.delete_stack(StackName=stack)
    assert not [s for s in sns.list_subscriptions()["Subscriptions"] if s["TopicArn"] == topic]
