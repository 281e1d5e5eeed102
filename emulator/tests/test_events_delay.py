"""The EventBridge delivery delay (stand-in test control, patches/events.py):
``POST /moto-api/irlab/events/delay {"seconds": N}`` holds deliveries back."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from conftest import ACCOUNT_ID, REGION, _reset, unique, wait_idle
from test_events import _allow_events


def _delay(emulator: Any, body: Any = None, method: str = "POST") -> tuple[int, dict]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"{emulator.endpoint}/moto-api/irlab/events/delay", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _fifo_target(sqs) -> tuple[str, str]:
    url = sqs.create_queue(
        QueueName=unique("held") + ".fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _allow_events(arn, "sqs:SendMessage")})
    return url, arn


def _bodies(sqs, url: str) -> list[dict]:
    got: list[dict] = []
    while True:
        page = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not page:
            return got
        for message in page:
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_delay_hook_request_and_response_shapes(aws, emulator):
    """Stand-in control, no AWS counterpart (AWS documents no delivery latency
    guarantee: "EventBridge ... delivers events in near real time" - tests hold
    deliveries back to see a system before its playbook has run).
    GET answers {"seconds": <current>}; POST {"seconds": N} (0 <= N <= 3600)
    sets it and answers the same shape; anything else is 400 {"message"};
    POST /moto-api/reset restores 0.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-what-is.html
    """
    assert _delay(emulator, method="GET") == (200, {"seconds": 0.0})
    assert _delay(emulator, {"seconds": 2}) == (200, {"seconds": 2.0})
    assert _delay(emulator, method="GET") == (200, {"seconds": 2.0})
    for bad in ({"seconds": -1}, {"seconds": "5"}, {"seconds": True}, {"secs": 1}, [1], {"seconds": 4000}, b"not json"):
        status, body = _delay(emulator, bad)
        assert status == 400 and body["message"], bad
    assert _delay(emulator, method="GET") == (200, {"seconds": 2.0})
    _reset(emulator.endpoint)
    assert _delay(emulator, method="GET") == (200, {"seconds": 0.0})


def test_delayed_deliveries_arrive_later_in_order_and_zero_restores_immediate_delivery(aws, emulator):
    """With a delay, PutEvents still answers at once with the event ids, the
    targets (an SQS FIFO queue, a CloudWatch Logs group) stay empty until the
    delay has passed, then receive every event in the order it was put. A delay
    of 0 delivers at once again. (EventBridge's own delivery is asynchronous
    to PutEvents: "PutEvents ... sends custom events to Amazon EventBridge so
    that they can be matched to rules".)
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html
    """
    events, sqs, logs = aws("events"), aws("sqs"), aws("logs")
    url, arn = _fifo_target(sqs)
    group = unique("/irlab/held")
    logs.create_log_group(logGroupName=group)
    events.put_rule(Name="held", EventPattern=json.dumps({"source": ["irlab.simulation"]}))
    events.put_targets(
        Rule="held",
        Targets=[
            {"Id": "queue", "Arn": arn, "SqsParameters": {"MessageGroupId": "findings"}},
            {"Id": "logs", "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}"},
        ],
    )
    delay = 1.5
    assert _delay(emulator, {"seconds": delay})[0] == 200

    put_at = time.time()
    ids = []
    for n in range(3):
        answer = events.put_events(
            Entries=[{"Source": "irlab.simulation", "DetailType": "GuardDuty Finding", "Detail": json.dumps({"n": n})}]
        )
        assert answer["FailedEntryCount"] == 0
        ids.append(answer["Entries"][0]["EventId"])
    assert time.time() - put_at < delay, "PutEvents must answer at once"
    assert _bodies(sqs, url) == []
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []

    wait_idle(emulator.endpoint, timeout=30)
    assert time.time() - put_at >= delay
    delivered = _bodies(sqs, url)
    assert [e["id"] for e in delivered] == ids
    assert [e["detail"]["n"] for e in delivered] == [0, 1, 2]
    logged = [
        e
        for s in logs.describe_log_streams(logGroupName=group)["logStreams"]
        for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
    ]
    assert sorted(json.loads(e["message"])["id"] for e in logged) == sorted(ids)
    assert min(e["timestamp"] for e in logged) >= int((put_at + delay) * 1000) - 50

    assert _delay(emulator, {"seconds": 0}) == (200, {"seconds": 0.0})
    events.put_events(Entries=[{"Source": "irlab.simulation", "DetailType": "GuardDuty Finding", "Detail": json.dumps({"n": 3})}])
    started = time.monotonic()
    wait_idle(emulator.endpoint, timeout=10)
    assert time.monotonic() - started < 1.0
    assert [e["detail"]["n"] for e in _bodies(sqs, url)] == [3]


def test_reset_drops_held_events(aws, emulator):
    """POST /moto-api/reset while events are held drops them (they never reach
    the fresh stand-in) and restores immediate delivery.
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
    """
    events = aws("events")
    events.put_rule(Name="held", EventPattern=json.dumps({"source": ["irlab.simulation"]}))
    assert _delay(emulator, {"seconds": 30})[0] == 200
    events.put_events(Entries=[{"Source": "irlab.simulation", "DetailType": "x", "Detail": "{}"}])
    started = time.monotonic()
    _reset(emulator.endpoint)
    wait_idle(emulator.endpoint, timeout=10)
    assert time.monotonic() - started < 5
    assert _delay(emulator, method="GET") == (200, {"seconds": 0.0})
