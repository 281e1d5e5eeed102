"""CloudWatch Logs: ``AWS::Logs::LogGroup`` as CloudFormation manages it.

moto creates the group with ``RetentionInDays`` and ``Tags`` but cannot
update it (a change to the retention replaced the group, and the new one
collided with the old name), gives it no stack tags, and leaves its tags
behind when the group is deleted.  Here the group is updated in place
(``RetentionInDays``, ``Tags``; a new ``LogGroupName`` replaces it), gets the
stack tags, and deleting it removes its tags too; ``Ref`` is the name,
``GetAtt Arn`` the ARN ending in ``:*``, as CloudFormation documents.

``FilterLogEvents`` as AWS answers it.  moto concatenated the streams one
after the other unless ``interleaved`` was set (AWS ignores that deprecated
parameter and always interleaves), paged by position (an event put between
two pages shifted every later one), ignored ``logStreamNamePrefix`` and
``logGroupIdentifier``, and matched every event for any filter pattern it
could not read (``?A ?B``, ``-A``, JSON, regex).  Here:

* the events of all (or the named / prefixed) streams with ``startTime`` <=
  timestamp <= ``endTime`` come in timestamp order (ties in the order they
  were put), at most ``limit`` (1-10000, default 10000) per call;
* ``nextToken`` names the last event returned: the next page starts right
  after it, so following the tokens returns every event exactly once even
  while new events arrive;
* ``logStreamNames`` and ``logStreamNamePrefix`` together are an
  ``InvalidParameterException``; ``logGroupIdentifier`` (name or ARN) stands
  for ``logGroupName``;
* filter patterns: see ``_filter_pattern.py`` (terms, quoted terms, ``?``,
  ``-``, JSON, regex; space-delimited patterns are refused).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.logs.models import LogGroup, LogsBackend, logs_backends
from moto.logs.responses import LogsResponse

from . import _cfn
from ._filter_pattern import PatternError, compile_pattern


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


# --------------------------------------------------------------------------
# FilterLogEvents


def _encode_token(group: str, timestamp: int, event_id: int) -> str:
    raw = json.dumps({"g": group, "t": timestamp, "e": event_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_token(token: str, group: str) -> tuple[int, int] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        if data["g"] != group:
            return None
        return int(data["t"]), int(data["e"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        return None


def filter_log_events(
    backend: LogsBackend,
    group_name: str,
    stream_names: list[str] | None,
    stream_prefix: str | None,
    start_time: int | None,
    end_time: int | None,
    limit: int | None,
    next_token: str | None,
    filter_pattern: str | None,
) -> tuple[list[dict[str, Any]], str | None, list[dict[str, Any]]]:
    if group_name not in backend.groups:
        raise ResourceNotFoundException()
    if stream_names and stream_prefix:
        raise InvalidParameterException(
            "logStreamNames and logStreamNamePrefix cannot both be specified."
        )
    if limit is not None and not 1 <= int(limit) <= 10000:
        raise InvalidParameterException(
            constraint="Member must have value between 1 and 10000", parameter="limit", value=limit
        )
    try:
        matches = compile_pattern(filter_pattern)
    except PatternError as exc:
        raise InvalidParameterException(f"Invalid filter pattern: {exc}") from exc
    group = backend.groups[group_name]
    streams = [
        stream
        for name, stream in list(group.streams.items())
        if (not stream_names or name in stream_names) and (not stream_prefix or name.startswith(stream_prefix))
    ]
    after: tuple[int, int] | None = None
    if next_token:
        after = _decode_token(next_token, group_name)
        if after is None:  # moto's answer to a token it cannot read: nothing
            return [], None, []
    selected: list[tuple[int, int, str, Any]] = []
    for stream in streams:
        for event in list(stream.events):
            if start_time is not None and event.timestamp < int(start_time):
                continue
            if end_time is not None and event.timestamp > int(end_time):
                continue
            key = (int(event.timestamp), int(event.event_id))
            if after is not None and key <= after:
                continue
            selected.append((key[0], key[1], stream.log_stream_name, event))
    selected.sort(key=lambda item: (item[0], item[1]))
    page_size = int(limit) if limit else 10000
    page: list[dict[str, Any]] = []
    last: tuple[int, int] | None = None
    more = False
    for timestamp, event_id, stream_name, event in selected:
        if not matches(event.message):
            continue
        if len(page) == page_size:
            more = True
            break
        item = event.to_filter_dict()
        item["logStreamName"] = stream_name
        page.append(item)
        last = (timestamp, event_id)
    token = _encode_token(group_name, *last) if more and last else None
    searched = [{"logStreamName": s.log_stream_name, "searchedCompletely": True} for s in streams]
    return page, token, searched


def _group_name(identifier: str | None) -> str | None:
    """logGroupIdentifier: the group's name or ARN (``...:log-group:NAME[:*]``)."""
    if identifier and identifier.startswith("arn:") and ":log-group:" in identifier:
        name = identifier.split(":log-group:", 1)[1]
        return name[:-2] if name.endswith(":*") else name
    return identifier


def _r_filter_log_events(self: LogsResponse) -> str:
    group_name = self._get_param("logGroupName")
    identifier = self._get_param("logGroupIdentifier")
    if group_name and identifier:
        raise InvalidParameterException("LogGroup name and LogGroup identifier are mutually exclusive parameters.")
    events, token, searched = filter_log_events(
        self.logs_backend,
        group_name or _group_name(identifier) or "",
        self._get_param("logStreamNames", []),
        self._get_param("logStreamNamePrefix"),
        self._get_param("startTime"),
        self._get_param("endTime"),
        self._get_param("limit"),
        self._get_param("nextToken"),
        self._get_param("filterPattern"),
    )
    body: dict[str, Any] = {"events": events, "searchedLogStreams": searched}
    if token:
        body["nextToken"] = token
    return json.dumps(body)


def apply() -> None:
    LogsResponse.filter_log_events = _r_filter_log_events  # type: ignore[method-assign]
    LogGroup.get_cfn_attribute = _get_cfn_attribute  # type: ignore[method-assign]
    _cfn.register(LogGroupHandler)
