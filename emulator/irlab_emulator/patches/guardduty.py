"""GuardDuty: one detector per account and Region, detector tags.

* ``CreateDetector`` when the account already has a detector in the Region
  fails with ``BadRequestException`` ("The request is rejected because a
  detector already exists for the current account.") - moto created a second.
  The check and the creation are one step under a lock, so concurrent
  requests never create two detectors.
* ``CreateDetector`` honours ``clientToken``, the idempotency token: a retry
  with the same token and the same parameters answers the detector that
  request created (while it exists) instead of failing; moto ignored the
  token. A token reused with other parameters is a new request (and fails
  while a detector exists).
* ``TagResource`` / ``UntagResource`` / ``ListTagsForResource`` on the
  detector ARN (``arn:aws:guardduty:<region>:<account>:detector/<id>``) -
  moto answered 404; ``GetDetector`` shows the same tags.
* ``DeleteDetector`` / ``UpdateDetector`` of an unknown detector fail like
  ``GetDetector`` (moto ignored the delete); ``UpdateDetector`` bumps
  ``updatedAt``.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from moto.core.exceptions import JsonRESTError
from moto.guardduty import urls as guardduty_urls
from moto.guardduty.exceptions import DetectorNotFoundException
from moto.guardduty.models import Detector, GuardDutyBackend
from moto.guardduty.responses import GuardDutyResponse
from moto.utilities.utils import get_partition


class BadRequestException(JsonRESTError):
    """GuardDuty's BadRequestException (HTTP 400; botocore reads the code
    from the X-Amzn-ErrorType header)."""

    code = 400

    def __init__(self, message: str, error_type: str = "BadRequestException"):
        super().__init__(error_type, message)

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("X-Amzn-ErrorType", "BadRequestException")]


def detector_arn(backend: GuardDutyBackend, detector_id: str) -> str:
    return (
        f"arn:{get_partition(backend.region_name)}:guardduty:{backend.region_name}:"
        f"{backend.account_id}:detector/{detector_id}"
    )


_orig_create_detector = GuardDutyBackend.create_detector
_create_lock = threading.Lock()


def _create_detector(
    self: GuardDutyBackend,
    enable: bool,
    finding_publishing_frequency: str,
    data_sources: dict[str, Any],
    tags: dict[str, str],
    features: list[dict[str, Any]],
    client_token: str | None = None,
) -> str:
    request = json.dumps(
        [enable, finding_publishing_frequency, data_sources, tags, features], sort_keys=True, default=str
    )
    with _create_lock:
        tokens: dict[str, tuple[str, str]] = self.__dict__.setdefault("irlab_client_tokens", {})
        if client_token and client_token in tokens:
            earlier_request, detector_id = tokens[client_token]
            if earlier_request == request and detector_id in self.detectors:
                return detector_id
        if self.detectors:
            raise BadRequestException(
                "The request is rejected because a detector already exists for the current account."
            )
        detector_id = _orig_create_detector(
            self, enable, finding_publishing_frequency, data_sources, tags, features
        )
        if client_token:
            tokens[client_token] = (request, detector_id)
        return detector_id


def _r_create_detector(self: GuardDutyResponse) -> str:
    detector_id = self.guardduty_backend.create_detector(
        self._get_param("enable"),
        self._get_param("findingPublishingFrequency"),
        self._get_param("dataSources"),
        self._get_param("tags"),
        self._get_param("features"),
        client_token=self._get_param("clientToken"),
    )
    return json.dumps({"detectorId": detector_id})


def _delete_detector(self: GuardDutyBackend, detector_id: str) -> None:
    self.get_detector(detector_id)
    self.detectors.pop(detector_id, None)


_orig_update_detector = GuardDutyBackend.update_detector


def _update_detector(self: GuardDutyBackend, detector_id: str, *args: Any, **kwargs: Any) -> None:
    _orig_update_detector(self, detector_id, *args, **kwargs)
    self.get_detector(detector_id).updated_at = datetime.now()


def _detector_for_arn(self: GuardDutyBackend, resource_arn: str) -> Detector:
    for detector_id, detector in self.detectors.items():
        if detector_arn(self, detector_id) == resource_arn:
            return detector
    raise DetectorNotFoundException()


def _tag_resource(self: GuardDutyBackend, resource_arn: str, tags: dict[str, str]) -> None:
    detector = _detector_for_arn(self, resource_arn)
    detector.tags = {**(detector.tags or {}), **(tags or {})}


def _untag_resource(self: GuardDutyBackend, resource_arn: str, tag_keys: list[str]) -> None:
    detector = _detector_for_arn(self, resource_arn)
    detector.tags = {k: v for k, v in (detector.tags or {}).items() if k not in set(tag_keys)}


def _list_tags_for_resource(self: GuardDutyBackend, resource_arn: str) -> dict[str, str]:
    return dict(_detector_for_arn(self, resource_arn).tags or {})


def _resource_arn(response: GuardDutyResponse) -> str:
    arn = (getattr(response, "uri_match", None) or {}).get("ResourceArn")
    if not arn:
        arn = response.path.split("/tags/", 1)[1]
    return unquote(arn)


def _r_tag_resource(self: GuardDutyResponse) -> tuple[int, dict[str, str], str]:
    self.guardduty_backend.tag_resource(_resource_arn(self), self._get_param("tags") or {})
    return 204, {}, ""


def _r_untag_resource(self: GuardDutyResponse) -> tuple[int, dict[str, str], str]:
    keys = self.querystring.get("tagKeys") or []
    self.guardduty_backend.untag_resource(_resource_arn(self), list(keys))
    return 204, {}, ""


def _r_list_tags_for_resource(self: GuardDutyResponse) -> str:
    tags = self.guardduty_backend.list_tags_for_resource(_resource_arn(self))
    return json.dumps({"tags": tags})


def apply() -> None:
    GuardDutyBackend.create_detector = _create_detector
    GuardDutyBackend.delete_detector = _delete_detector
    GuardDutyBackend.update_detector = _update_detector
    GuardDutyBackend.tag_resource = _tag_resource
    GuardDutyBackend.untag_resource = _untag_resource
    GuardDutyBackend.list_tags_for_resource = _list_tags_for_resource
    GuardDutyResponse.create_detector = _r_create_detector
    GuardDutyResponse.tag_resource = _r_tag_resource
    GuardDutyResponse.untag_resource = _r_untag_resource
    GuardDutyResponse.list_tags_for_resource = _r_list_tags_for_resource
    guardduty_urls.url_paths.setdefault("{0}/tags/(?P<resource_arn>.+)$", GuardDutyResponse.dispatch)
