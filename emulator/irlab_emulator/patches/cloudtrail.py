"""CloudTrail: ``AWS::CloudTrail::Trail`` (moto skips it) and the bucket
policy check CloudTrail makes on CreateTrail/UpdateTrail.

* The trail is created through moto's CloudTrail backend with
  ``S3BucketName``, ``S3KeyPrefix``, ``SnsTopicName``,
  ``IncludeGlobalServiceEvents``, ``IsMultiRegionTrail``,
  ``EnableLogFileValidation``, ``IsOrganizationTrail``, CloudWatch Logs and KMS
  settings, event/insight selectors and ``Tags``; ``IsLogging: true`` starts
  logging.  ``Ref`` is the trail name, ``GetAtt Arn`` the trail ARN.  Update
  changes the trail in place (a new ``TrailName`` replaces it); delete deletes
  it.
* CreateTrail/UpdateTrail fail with ``InsufficientS3BucketPolicyException``
  unless the bucket policy lets ``cloudtrail.amazonaws.com`` call
  ``s3:GetBucketAcl`` on the bucket and ``s3:PutObject`` on
  ``[prefix/]AWSLogs/<account>/*`` (conditions such as ``aws:SourceArn`` are
  evaluated against the trail), and a second trail with the same name fails
  with ``TrailAlreadyExistsException``.
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudtrail.models import CloudTrailBackend, Trail, cloudtrail_backends
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.s3.models import s3_backends

from . import _cfn
from .s3 import as_list, condition_matches, matches


class InsufficientS3BucketPolicyException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("InsufficientS3BucketPolicyException", message)


class TrailAlreadyExistsException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("TrailAlreadyExistsException", message)


def _allows_cloudtrail(policy: dict[str, Any], action: str, resource: str, context: dict[str, list[str]]) -> bool:
    allowed = False
    for statement in as_list(policy.get("Statement")):
        principal = statement.get("Principal")
        if principal == "*":
            applies = True
        elif isinstance(principal, dict):
            applies = "cloudtrail.amazonaws.com" in as_list(principal.get("Service")) or "*" in as_list(
                principal.get("AWS")
            )
        else:
            applies = False
        if not applies:
            continue
        if not matches([a.lower() for a in as_list(statement.get("Action"))], action.lower()):
            continue
        if not matches(statement.get("Resource"), resource):
            continue
        if statement.get("Condition") and condition_matches(statement["Condition"], context) is not True:
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def check_bucket_policy(trail: Trail) -> None:
    backend = s3_backends[trail.account_id][trail.partition]
    bucket = backend.get_bucket(trail.bucket_name)
    message = f"Incorrect S3 bucket policy is detected for bucket: {trail.bucket_name}"
    if not bucket.policy:
        raise InsufficientS3BucketPolicyException(message)
    policy = json.loads(bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy)
    context = {
        "aws:sourcearn": [trail.arn],
        "aws:sourceaccount": [trail.account_id],
        "aws:securetransport": ["true"],
        "s3:x-amz-acl": ["bucket-owner-full-control"],
    }
    bucket_arn = f"arn:{trail.partition}:s3:::{trail.bucket_name}"
    prefix = f"{trail.s3_key_prefix.strip('/')}/" if trail.s3_key_prefix else ""
    log_object = f"{bucket_arn}/{prefix}AWSLogs/{trail.account_id}/CloudTrail/{trail.region_name}/log.json.gz"
    if not (
        _allows_cloudtrail(policy, "s3:GetBucketAcl", bucket_arn, context)
        and _allows_cloudtrail(policy, "s3:PutObject", log_object, context)
    ):
        raise InsufficientS3BucketPolicyException(message)


_orig_create_trail = CloudTrailBackend.create_trail


def _create_trail(self: CloudTrailBackend, name: str, *args: Any, **kwargs: Any) -> Trail:
    if name in self.trails:
        raise TrailAlreadyExistsException(
            f"Trail {self.trails[name].arn} already exists for customer: {self.account_id}"
        )
    trail = _orig_create_trail(self, name, *args, **kwargs)
    try:
        check_bucket_policy(trail)
    except Exception:
        self.trails.pop(name, None)
        raise
    return trail


_orig_update_trail = CloudTrailBackend.update_trail


def _update_trail(self: CloudTrailBackend, name: str, *args: Any, **kwargs: Any) -> Trail:
    trail = self.get_trail(name)
    before = dict(trail.__dict__)
    updated = _orig_update_trail(self, name, *args, **kwargs)
    if updated.bucket_name != before["bucket_name"] or updated.s3_key_prefix != before["s3_key_prefix"]:
        try:
            check_bucket_policy(updated)
        except Exception:
            trail.__dict__.update(before)
            raise
    return updated


def _backend(account_id: str, region_name: str) -> CloudTrailBackend:
    return cloudtrail_backends[account_id][region_name]


class TrailResource(CloudFormationModel):
    """AWS::CloudTrail::Trail (Ref: trail name; GetAtt Arn, SnsTopicArn)."""

    def __init__(self, account_id: str, region_name: str, name: str):
        self.account_id = account_id
        self.region_name = region_name
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "TrailName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudTrail::Trail"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @property
    def trail(self) -> Trail:
        return _backend(self.account_id, self.region_name).get_trail(self.name)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "SnsTopicArn")

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.trail.arn
        if attribute_name == "SnsTopicArn":
            return self.trail.topic_arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @staticmethod
    def _selectors(backend: CloudTrailBackend, name: str, props: dict[str, Any]) -> None:
        if props.get("EventSelectors") or props.get("AdvancedEventSelectors"):
            backend.put_event_selectors(
                name, props.get("EventSelectors") or [], props.get("AdvancedEventSelectors") or []
            )
        if props.get("InsightSelectors"):
            backend.put_insight_selectors(name, props["InsightSelectors"])

    @staticmethod
    def _logging(backend: CloudTrailBackend, name: str, props: dict[str, Any]) -> None:
        if _cfn.as_bool(props.get("IsLogging")):
            backend.start_logging(name)
        else:
            backend.stop_logging(name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> TrailResource:
        props = _cfn.props_of(cloudformation_json)
        backend = _backend(account_id, region_name)
        backend.create_trail(
            resource_name,
            props["S3BucketName"],
            props.get("S3KeyPrefix"),
            props.get("SnsTopicName"),
            _cfn.as_bool(props.get("IncludeGlobalServiceEvents"), True),
            _cfn.as_bool(props.get("IsMultiRegionTrail")),
            _cfn.as_bool(props.get("EnableLogFileValidation")),
            _cfn.as_bool(props.get("IsOrganizationTrail")),
            props.get("CloudWatchLogsLogGroupArn"),
            props.get("CloudWatchLogsRoleArn"),
            props.get("KMSKeyId"),
            [{"Key": k, "Value": v} for k, v in _cfn.tag_list_to_dict(props.get("Tags")).items()],
        )
        try:
            cls._selectors(backend, resource_name, props)
            cls._logging(backend, resource_name, props)
        except Exception:
            backend.delete_trail(resource_name)
            raise
        return cls(account_id, region_name, resource_name)

    @classmethod
    def irlab_update(
        cls, resource: TrailResource, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> TrailResource:
        if old_props.get("TrailName") != new_props.get("TrailName"):
            raise _cfn.NeedsReplacement()
        backend = _backend(account_id, region_name)
        backend.update_trail(
            resource.name,
            new_props["S3BucketName"],
            new_props.get("S3KeyPrefix"),
            new_props.get("SnsTopicName"),
            _cfn.as_bool(new_props.get("IncludeGlobalServiceEvents"), True),
            _cfn.as_bool(new_props.get("IsMultiRegionTrail")),
            _cfn.as_bool(new_props.get("EnableLogFileValidation")),
            _cfn.as_bool(new_props.get("IsOrganizationTrail")),
            new_props.get("CloudWatchLogsLogGroupArn"),
            new_props.get("CloudWatchLogsRoleArn"),
            new_props.get("KMSKeyId"),
        )
        cls._selectors(backend, resource.name, new_props)
        cls._logging(backend, resource.name, new_props)
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        arn = resource.trail.arn
        gone = [{"Key": k} for k in old_tags if k not in new_tags]
        if gone:
            backend.remove_tags(arn, gone)
        if new_tags:
            backend.add_tags(arn, [{"Key": k, "Value": v} for k, v in new_tags.items()])
        return resource

    @classmethod
    def irlab_delete(cls, resource: TrailResource, props: dict[str, Any], account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).delete_trail(resource.name)

    @classmethod
    def irlab_tag(cls, resource: TrailResource, tags: dict[str, str], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        arn = resource.trail.arn
        existing = {t["Key"] for t in backend.list_tags([arn])[0]["TagsList"]}
        new = [{"Key": k, "Value": v} for k, v in tags.items() if k.startswith("aws:") or k not in existing]
        if new:
            backend.add_tags(arn, new)


def apply() -> None:
    CloudTrailBackend.create_trail = _create_trail
    CloudTrailBackend.update_trail = _update_trail
    _cfn.register(TrailResource)
