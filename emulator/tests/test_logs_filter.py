"""CloudWatch Logs FilterLogEvents as the lab reads its log groups
(patches/logs.py): many streams, a start time, pages, filter patterns."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, unique

# PutLogEvents refuses events older than 14 days or more than 2 hours ahead
BASE_MS = (int(time.time()) // 60 - 120) * 60_000  # two hours ago, on the minute
STREAMS = 7


def _fill(logs, group: str, count: int = 420) -> list[dict]:
    """``count`` events over STREAMS streams: event i at BASE_MS + i*1000 in
    stream i % STREAMS (so the streams interleave),
    every 5th mentions abc-123 (so the matches are spread over all streams),
some near misses; two events share a timestamp in different streams."""
    logs.create_log_group(logGroupName=group)
    per_stream: dict[str, list[dict]] = {}
    expected = []
    for i in range(count):
        stream = f"2026/12/01/[$LATEST]{i % STREAMS:032x}"
        if i % 5 == 0:
            message = f"event {i} finding abc-123 contained"
        elif i % 11 == 0:
            message = f"event {i} finding abc-124 ABC-123 abc 123"
        else:
            message = f"event {i} routine"
        timestamp = BASE_MS + i * 1000 if i != 1 else BASE_MS  # events 0 and 1 share a timestamp
        per_stream.setdefault(stream, []).append({"timestamp": timestamp, "message": message})
        expected.append({"stream": stream, "timestamp": timestamp, "message": message})
    for stream, events in per_stream.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        for start in range(0, len(events), 25):
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[start : start + 25])
    return expected


def _pages(logs, **kwargs) -> list[list[dict]]:
    pages = []
    token = None
    while True:
        request = dict(kwargs)
        if token:
            request["nextToken"] = token
        answer = logs.filter_log_events(**request)
        pages.append(answer["events"])
        token = answer.get("nextToken")
        if not token:
            return pages
        assert len(pages) < 1000, "pagination does not end"


def test_filter_log_events_pages_every_event_once_in_timestamp_order(aws):
    """FilterLogEvents interleaves the events of all streams of the group (the
    `interleaved` parameter is deprecated and ignored: the response always
    interleaves), returns those with timestamp >= startTime (and <= endTime),
    at most `limit` per call, and a nextToken while more remain; following the
    tokens returns every matching event exactly once, in timestamp order, each
    with its logStreamName, timestamp, ingestionTime, message and eventId.
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilteredLogEvent.html
    """
    logs = aws("logs")
    group = unique("/irlab/audit")
    expected = _fill(logs, group)
    start = BASE_MS + 35 * 1000

    pages = _pages(logs, logGroupName=group, startTime=start, limit=25)
    events = [e for page in pages for e in page]
    assert all(len(page) <= 25 for page in pages)
    assert len(pages) >= 16
    wanted = [e for e in expected if e["timestamp"] >= start]
    assert len(events) == len(wanted) == 385
    assert len({e["eventId"] for e in events}) == len(events)
    assert sorted((e["timestamp"], e["message"]) for e in events) == sorted((e["timestamp"], e["message"]) for e in wanted)
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    for event in events:
        assert set(event) >= {"logStreamName", "timestamp", "ingestionTime", "message", "eventId"}
        assert event["logStreamName"] == f"2026/12/01/[$LATEST]{int(event['message'].split()[1]) % STREAMS:032x}"

    # the whole group, interleaved=False ignored, events with equal timestamps kept apart
    everything = [e for page in _pages(logs, logGroupName=group, limit=50, interleaved=False) for e in page]
    assert [e["message"] for e in everything][:2] == ["event 0 finding abc-123 contained", "event 1 routine"]
    assert [e["timestamp"] for e in everything] == sorted(e["timestamp"] for e in everything)
    assert len(everything) == len(expected)

    # endTime is inclusive; no limit returns everything at once
    window = logs.filter_log_events(logGroupName=group, startTime=BASE_MS + 10_000, endTime=BASE_MS + 20_000)
    assert [int(e["message"].split()[1]) for e in window["events"]] == list(range(10, 21))
    assert "nextToken" not in window or not window["nextToken"]

    # events that arrive between two pages are not lost, and none repeats
    first = logs.filter_log_events(logGroupName=group, startTime=start, limit=10)
    late_stream = "2026/12/01/[$LATEST]late"
    logs.create_log_stream(logGroupName=group, logStreamName=late_stream)
    logs.put_log_events(
        logGroupName=group, logStreamName=late_stream, logEvents=[{"timestamp": BASE_MS + 3 * 3_600_000, "message": "late event"}]
    )
    rest = [e for page in _pages(logs, logGroupName=group, startTime=start, limit=100, nextToken=first["nextToken"]) for e in page]
    seen = [e["eventId"] for e in first["events"] + rest]
    assert len(seen) == len(set(seen)) == 386
    assert rest[-1]["message"] == "late event"


def test_filter_log_events_with_a_quoted_term(aws):
    """A filter pattern of one term in double quotes (required for terms with
    characters other than letters and digits, such as "abc-123") returns only
    the events whose message contains that exact term; matching is case
    sensitive. Pagination over the matches returns each once, in timestamp order.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
    """
    logs = aws("logs")
    group = unique("/irlab/audit")
    expected = _fill(logs, group)
    matching = [e for e in expected if "abc-123" in e["message"]]
    assert len(matching) == 84 and len({e['stream'] for e in matching}) == STREAMS

    events = [e for page in _pages(logs, logGroupName=group, filterPattern='"abc-123"', limit=7) for e in page]
    assert [e["message"] for e in events] == [e["message"] for e in sorted(matching, key=lambda e: e["timestamp"])]

    start = BASE_MS + 200 * 1000
    later = [e for page in _pages(logs, logGroupName=group, filterPattern='"abc-123"', startTime=start, limit=5) for e in page]
    assert [e["message"] for e in later] == [e["message"] for e in matching if e["timestamp"] >= start]
    assert logs.filter_log_events(logGroupName=group, filterPattern='"abc-125"')["events"] == []


def test_filter_patterns_terms_or_and_exclusion(aws):
    """Term patterns: several terms must all appear; `?term ?term` matches any
    of them; `-term` excludes events that contain it; an empty pattern matches
    every event. A pattern the stand-in does not evaluate (space-delimited
    `[...]`) is refused rather than matching everything.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
    """
    logs = aws("logs")
    group = unique("/irlab/terms")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    messages = [
        "[ERROR 400] BAD REQUEST",
        "[ERROR 401] UNAUTHORIZED REQUEST",
        "[WARN 419] MISSING ARGUMENTS",
        "[INFO 200] OK",
        '{"kind": "sns", "messageId": "m-1", "severity": 8}',
        '{"kind": "event", "id": "e-1", "severity": 2}',
    ]
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": BASE_MS + i, "message": m} for i, m in enumerate(messages)]
    )

    def found(pattern: str) -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]]

    assert found("") == messages
    assert found("ERROR") == messages[:2]
    assert found("error") == []
    assert found("ERROR REQUEST") == messages[:2]
    assert found("ERROR UNAUTHORIZED") == [messages[1]]
    assert found("?WARN ?INFO") == messages[2:4]
    assert found("REQUEST -UNAUTHORIZED") == [messages[0]]
    assert found('"BAD REQUEST"') == [messages[0]]
    assert found('"[ERROR 401]"') == [messages[1]]
    assert found('"m-1"') == [messages[4]]
    assert found('{ $.kind = "sns" }') == [messages[4]]
    assert found("{ $.severity >= 5 }") == [messages[4]]
    assert found('{ ($.kind = "event") || ($.severity > 7) }') == messages[4:6]
    assert found("%ERROR 40[01]%") == messages[:2]
    with pytest.raises(ClientError) as err:
        logs.filter_log_events(logGroupName=group, filterPattern="[level, code, ...]")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"


def test_filter_log_events_parameters(aws):
    """logStreamNames and logStreamNamePrefix narrow the search (both at once is
    an InvalidParameterException); logGroupIdentifier (the group's name or ARN)
    may stand for logGroupName; an unknown group is ResourceNotFoundException.
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
    """
    logs = aws("logs")
    group = unique("/irlab/params")
    _fill(logs, group, count=70)
    first = f"2026/12/01/[$LATEST]{0:032x}"
    by_name = logs.filter_log_events(logGroupName=group, logStreamNames=[first])["events"]
    assert len(by_name) == 10 and {e["logStreamName"] for e in by_name} == {first}
    by_prefix = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="2026/12/01/[$LATEST]0000")["events"]
    assert len(by_prefix) == 70
    assert logs.filter_log_events(logGroupName=group, logStreamNamePrefix="2026/11/")["events"] == []
    with pytest.raises(ClientError) as err:
        logs.filter_log_events(logGroupName=group, logStreamNames=[first], logStreamNamePrefix="2026")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"

    arn = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}"
    assert len(logs.filter_log_events(logGroupIdentifier=arn)["events"]) == 70
    assert len(logs.filter_log_events(logGroupIdentifier=group)["events"]) == 70
    with pytest.raises(ClientError) as err:
        logs.filter_log_events(logGroupName=unique("/irlab/missing"))
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
