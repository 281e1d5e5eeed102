"""GuardDuty threat lists (ThreatIntelSet) and trusted IP lists (IPSet).

moto 5.2.5 answers 404 to every one of these operations.  Here, per detector
(the lists vanish with ``DeleteDetector``):

* ``CreateThreatIntelSet`` / ``CreateIPSet`` (``Name``, ``Format`` TXT | STIX |
  OTX_CSV | ALIEN_VAULT | PROOF_POINT | FIRE_EYE, ``Location`` an S3 object URL
  in one of the documented forms, ``Activate``, ``Tags``,
  ``ExpectedBucketOwner``) -> the set id (32 hex characters);
* ``GetThreatIntelSet`` / ``GetIPSet``: ``Status`` is ``INACTIVE`` when not
  activated, ``ACTIVE`` once GuardDuty could read the object, ``ERROR`` when it
  could not (no such bucket or object in the stand-in, or a bucket that does not
  belong to ``ExpectedBucketOwner``).  AWS passes through ``ACTIVATING`` /
  ``DEACTIVATING`` / ``DELETE_PENDING`` for a few minutes; the stand-in settles at
  once;
* ``ListThreatIntelSets`` / ``ListIPSets`` (``MaxResults`` 1-50, ``NextToken``),
  ``UpdateThreatIntelSet`` / ``UpdateIPSet`` (name, location, activate - which
  re-reads the object), ``DeleteThreatIntelSet`` / ``DeleteIPSet``;
* quotas: 6 threat lists and 1 trusted IP list per detector
  (``BadRequestException`` beyond); IPSet names are unique in the account and
  Region and use letters, digits, whitespace, ``-`` and ``_``;
* ``TagResource`` / ``UntagResource`` / ``ListTagsForResource`` on the set ARNs
  ``arn:aws:guardduty:R:A:detector/D/threatintelset/ID`` and ``.../ipset/ID``.

:func:`threat_list_for` / :func:`trusted` let the finding simulation
(``guardduty_findings.py``) apply the lists as GuardDuty does: a
``*MaliciousIPCaller.Custom`` finding needs the IP on an active threat list, and
an IP on an active trusted list raises no flow-log or CloudTrail finding.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from typing import Any
from urllib.parse import unquote, urlparse

from moto.core.exceptions import JsonRESTError
from moto.guardduty import urls as guardduty_urls
from moto.guardduty.models import Detector, GuardDutyBackend
from moto.guardduty.responses import GuardDutyResponse
from moto.utilities.utils import get_partition

from .guardduty import BadRequestException

FORMATS = ("TXT", "STIX", "OTX_CSV", "ALIEN_VAULT", "PROOF_POINT", "FIRE_EYE")
LIMITS = {"threatintelset": 6, "ipset": 1}
KIND_NAMES = {"threatintelset": "ThreatIntelSet", "ipset": "IPSet"}
IPSET_NAME = re.compile(r"^[A-Za-z0-9_\- \t]+$")
INVALID_INPUT = "The request is rejected because an invalid or out-of-range value is specified as an input parameter."


class NoSuchSet(JsonRESTError):
    """GuardDuty's answer for an unknown set id (HTTP 400, BadRequestException)."""

    code = 400

    def __init__(self) -> None:
        super().__init__("InvalidInputException", "The request is rejected since no such resource found.")

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("X-Amzn-ErrorType", "BadRequestException")]


def _sets(detector: Detector, kind: str) -> dict[str, dict[str, Any]]:
    attr = f"irlab_{kind}s"
    if not hasattr(detector, attr):
        setattr(detector, attr, {})
    return getattr(detector, attr)


def set_arn(backend: GuardDutyBackend, detector_id: str, kind: str, set_id: str) -> str:
    return (
        f"arn:{get_partition(backend.region_name)}:guardduty:{backend.region_name}:{backend.account_id}:"
        f"detector/{detector_id}/{kind}/{set_id}"
    )


# --------------------------------------------------------------------------
# the S3 object behind a list


def parse_location(location: str) -> tuple[str, str] | None:
    """(bucket, key) of a list location in one of the forms GuardDuty accepts:
    ``s3://bucket/key``, ``https://s3.amazonaws.com/bucket/key``,
    ``https://s3-REGION.amazonaws.com/bucket/key``, ``https://s3.REGION.amazonaws.com/bucket/key``,
    ``https://bucket.s3.amazonaws.com/key``, ``https://bucket.s3-REGION.amazonaws.com/key``,
    ``https://bucket.s3.REGION.amazonaws.com/key``; None otherwise."""
    url = urlparse(location or "")
    path = unquote(url.path.lstrip("/"))
    if url.scheme == "s3":
        bucket, key = url.netloc, path
    elif url.scheme in ("http", "https"):
        host = url.netloc.lower()
        if re.fullmatch(r"s3([.-][a-z0-9-]+)?\.amazonaws\.com", host):
            bucket, _, key = path.partition("/")
        else:
            match = re.fullmatch(r"(.+)\.s3([.-][a-z0-9-]+)?\.amazonaws\.com", host)
            if not match:
                return None
            bucket, key = match.group(1), path
    else:
        return None
    if not bucket or not key:
        return None
    return bucket, key


def _read_object(location: str, expected_owner: str | None) -> bytes | None:
    """The object's bytes as GuardDuty would read them, None when it cannot."""
    from moto.s3.models import s3_backends

    parsed = parse_location(location)
    if parsed is None:
        return None
    bucket_name, key_name = parsed
    owner = s3_backends.bucket_accounts.get(bucket_name)
    if owner is None:
        return None
    partition, account_id = owner
    if expected_owner and expected_owner != account_id:
        return None
    bucket = s3_backends[account_id][partition].buckets.get(bucket_name)
    if bucket is None:
        return None
    key = bucket.keys.get(key_name)
    value = getattr(key, "value", None)
    return value if isinstance(value, (bytes, bytearray)) else None


def _status_after_activation(record: dict[str, Any]) -> str:
    return "ACTIVE" if _read_object(record["location"], record.get("expectedBucketOwner")) is not None else "ERROR"


_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?\b")


def entries(record: dict[str, Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The IP addresses and CIDR ranges of an active list (TXT: one per line;
    other formats: every IPv4 address or range in the file)."""
    raw = _read_object(record["location"], record.get("expectedBucketOwner"))
    if raw is None:
        return []
    text = raw.decode("utf-8", "replace")
    if record["format"] == "TXT":
        candidates = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    else:
        candidates = _IPV4.findall(text)
    networks = []
    for candidate in candidates:
        try:
            networks.append(ipaddress.ip_network(candidate, strict=False))
        except ValueError:
            continue
    return networks


def _contains(record: dict[str, Any], ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in entries(record))


def threat_list_for(detector: Detector, ip: str | None) -> dict[str, Any] | None:
    """The first ACTIVE threat list of the detector that holds ``ip`` (or, when
    ``ip`` is None, the first ACTIVE threat list with an entry)."""
    for record in _sets(detector, "threatintelset").values():
        if record["status"] != "ACTIVE":
            continue
        if ip is None and entries(record):
            return record
        if ip is not None and _contains(record, ip):
            return record
    return None


def trusted(detector: Detector, ip: str | None) -> bool:
    """Whether ``ip`` is on an ACTIVE trusted IP list of the detector."""
    return bool(ip) and any(
        record["status"] == "ACTIVE" and _contains(record, ip) for record in _sets(detector, "ipset").values()
    )


# --------------------------------------------------------------------------
# backend


def _check_name(backend: GuardDutyBackend, kind: str, name: str, exclude: str | None = None) -> None:
    if not name or len(name) > 300:
        raise BadRequestException(INVALID_INPUT)
    if kind == "ipset":
        if not IPSET_NAME.match(name):
            raise BadRequestException(
                "The request is rejected because the IPSet name may contain only alphanumeric characters, "
                "whitespace, dash (-) and underscore (_)."
            )
        for detector in backend.detectors.values():
            for set_id, record in _sets(detector, kind).items():
                if set_id != exclude and record["name"] == name:
                    raise BadRequestException(
                        f"The request is rejected because an IPSet named {name} already exists in this account and Region."
                    )


def _check_location(location: str) -> None:
    if not location or len(location) > 300 or parse_location(location) is None:
        raise BadRequestException(
            "The request is rejected because the location is not a valid S3 object URL "
            "(s3://bucket/key or https://s3.amazonaws.com/bucket/key)."
        )


def create_set(
    backend: GuardDutyBackend,
    kind: str,
    detector_id: str,
    name: str,
    fmt: str,
    location: str,
    activate: bool,
    tags: dict[str, str] | None,
    expected_owner: str | None,
) -> str:
    detector = backend.get_detector(detector_id)
    sets = _sets(detector, kind)
    if len(sets) >= LIMITS[kind]:
        raise BadRequestException(
            f"The request is rejected because the maximum number of {KIND_NAMES[kind]}s per detector "
            f"({LIMITS[kind]}) has been reached."
        )
    _check_name(backend, kind, name)
    if fmt not in FORMATS:
        raise BadRequestException(INVALID_INPUT)
    _check_location(location)
    set_id = uuid.uuid4().hex
    record: dict[str, Any] = {
        "name": name,
        "format": fmt,
        "location": location,
        "tags": dict(tags or {}),
        "expectedBucketOwner": expected_owner or None,
        "status": "INACTIVE",
    }
    if activate:
        record["status"] = _status_after_activation(record)
    sets[set_id] = record
    return set_id


def get_set(backend: GuardDutyBackend, kind: str, detector_id: str, set_id: str) -> dict[str, Any]:
    detector = backend.get_detector(detector_id)
    record = _sets(detector, kind).get(set_id)
    if record is None:
        raise NoSuchSet()
    return record


def update_set(
    backend: GuardDutyBackend,
    kind: str,
    detector_id: str,
    set_id: str,
    name: str | None,
    location: str | None,
    activate: bool | None,
    expected_owner: str | None,
) -> None:
    record = get_set(backend, kind, detector_id, set_id)
    if name is not None:
        _check_name(backend, kind, name, exclude=set_id)
        record["name"] = name
    if location is not None:
        _check_location(location)
        record["location"] = location
    if expected_owner is not None:
        record["expectedBucketOwner"] = expected_owner or None
    if activate is True or (activate is None and record["status"] in ("ACTIVE", "ERROR") and location is not None):
        record["status"] = _status_after_activation(record)
    elif activate is False:
        record["status"] = "INACTIVE"


def delete_set(backend: GuardDutyBackend, kind: str, detector_id: str, set_id: str) -> None:
    get_set(backend, kind, detector_id, set_id)
    _sets(backend.get_detector(detector_id), kind).pop(set_id, None)


_SET_ARN = re.compile(r"^arn:[^:]+:guardduty:[^:]*:\d+:detector/([^/]+)/(threatintelset|ipset)/([^/]+)$")


def _record_for_arn(backend: GuardDutyBackend, arn: str) -> dict[str, Any] | None:
    match = _SET_ARN.match(arn or "")
    if not match:
        return None
    detector_id, kind, set_id = match.groups()
    if set_arn(backend, detector_id, kind, set_id) != arn:
        raise NoSuchSet()
    return get_set(backend, kind, detector_id, set_id)


def _wrap_tags() -> None:
    original_tag = GuardDutyBackend.tag_resource
    original_untag = GuardDutyBackend.untag_resource
    original_list = GuardDutyBackend.list_tags_for_resource

    def tag_resource(self: GuardDutyBackend, resource_arn: str, tags: dict[str, str]) -> None:
        record = _record_for_arn(self, resource_arn)
        if record is None:
            return original_tag(self, resource_arn, tags)
        record["tags"] = {**record["tags"], **(tags or {})}
        return None

    def untag_resource(self: GuardDutyBackend, resource_arn: str, tag_keys: list[str]) -> None:
        record = _record_for_arn(self, resource_arn)
        if record is None:
            return original_untag(self, resource_arn, tag_keys)
        record["tags"] = {k: v for k, v in record["tags"].items() if k not in set(tag_keys)}
        return None

    def list_tags_for_resource(self: GuardDutyBackend, resource_arn: str) -> dict[str, str]:
        record = _record_for_arn(self, resource_arn)
        if record is None:
            return original_list(self, resource_arn)
        return dict(record["tags"])

    GuardDutyBackend.tag_resource = tag_resource  # type: ignore[method-assign]
    GuardDutyBackend.untag_resource = untag_resource  # type: ignore[method-assign]
    GuardDutyBackend.list_tags_for_resource = list_tags_for_resource  # type: ignore[method-assign]


# --------------------------------------------------------------------------
# responses


def _path_ids(response: GuardDutyResponse, kind: str) -> tuple[str, str | None]:
    parts = response.path.rstrip("/").split("/")
    index = parts.index("detector")
    detector_id = unquote(parts[index + 1])
    set_id = unquote(parts[index + 3]) if len(parts) > index + 3 and parts[index + 2] == kind else None
    return detector_id, set_id


def _page(response: GuardDutyResponse, ids: list[str]) -> tuple[list[str], str | None]:
    raw_max = response.querystring.get("maxResults", [None])[0]
    raw_token = response.querystring.get("nextToken", [None])[0]
    try:
        max_results = int(raw_max) if raw_max is not None else 50
        start = int(raw_token) if raw_token else 0
    except ValueError as exc:
        raise BadRequestException(INVALID_INPUT) from exc
    if not 1 <= max_results <= 50 or start < 0:
        raise BadRequestException(INVALID_INPUT)
    page = ids[start : start + max_results]
    return page, (str(start + max_results) if start + max_results < len(ids) else None)


def _responses(kind: str, id_key: str, ids_key: str) -> dict[str, Any]:
    def create(self: GuardDutyResponse) -> str:
        detector_id, _ = _path_ids(self, kind)
        set_id = create_set(
            self.guardduty_backend,
            kind,
            detector_id,
            self._get_param("name"),
            self._get_param("format"),
            self._get_param("location"),
            bool(self._get_param("activate")),
            self._get_param("tags"),
            self._get_param("expectedBucketOwner"),
        )
        return json.dumps({id_key: set_id})

    def get(self: GuardDutyResponse) -> str:
        detector_id, set_id = _path_ids(self, kind)
        record = get_set(self.guardduty_backend, kind, detector_id, set_id or "")
        body = {k: record[k] for k in ("name", "format", "location", "status", "tags")}
        if record.get("expectedBucketOwner"):
            body["expectedBucketOwner"] = record["expectedBucketOwner"]
        return json.dumps(body)

    def list_(self: GuardDutyResponse) -> str:
        detector_id, _ = _path_ids(self, kind)
        detector = self.guardduty_backend.get_detector(detector_id)
        page, token = _page(self, list(_sets(detector, kind)))
        body: dict[str, Any] = {ids_key: page}
        if token:
            body["nextToken"] = token
        return json.dumps(body)

    def update(self: GuardDutyResponse) -> str:
        detector_id, set_id = _path_ids(self, kind)
        update_set(
            self.guardduty_backend,
            kind,
            detector_id,
            set_id or "",
            self._get_param("name"),
            self._get_param("location"),
            self._get_param("activate"),
            self._get_param("expectedBucketOwner"),
        )
        return "{}"

    def delete(self: GuardDutyResponse) -> str:
        detector_id, set_id = _path_ids(self, kind)
        delete_set(self.guardduty_backend, kind, detector_id, set_id or "")
        return "{}"

    return {"create": create, "get": get, "list": list_, "update": update, "delete": delete}


def apply() -> None:
    for kind, suffix, id_key, ids_key in (
        ("threatintelset", "threat_intel_set", "threatIntelSetId", "threatIntelSetIds"),
        ("ipset", "ip_set", "ipSetId", "ipSetIds"),
    ):
        handlers = _responses(kind, id_key, ids_key)
        setattr(GuardDutyResponse, f"create_{suffix}", handlers["create"])
        setattr(GuardDutyResponse, f"get_{suffix}", handlers["get"])
        setattr(GuardDutyResponse, f"list_{suffix}s", handlers["list"])
        setattr(GuardDutyResponse, f"update_{suffix}", handlers["update"])
        setattr(GuardDutyResponse, f"delete_{suffix}", handlers["delete"])
        guardduty_urls.url_paths.setdefault(f"{{0}}/detector/(?P<detector_id>[^/]+)/{kind}$", GuardDutyResponse.dispatch)
        guardduty_urls.url_paths.setdefault(
            f"{{0}}/detector/(?P<detector_id>[^/]+)/{kind}/(?P<set_id>[^/]+)$", GuardDutyResponse.dispatch
        )
    _wrap_tags()

