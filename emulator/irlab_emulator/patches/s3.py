"""S3: ``AWS::S3::BucketPolicy``, a fuller ``AWS::S3::Bucket`` and bucket
policy conditions.

* ``AWS::S3::BucketPolicy`` (moto skips it): puts the policy, deletes it with
  the resource.
* ``AWS::S3::Bucket``: moto only applies ``BucketEncryption`` and ``Tags``;
  here also ``VersioningConfiguration``, ``PublicAccessBlockConfiguration``,
  ``OwnershipControls`` and ``LifecycleConfiguration``.  Deleting a bucket that
  still holds objects (or object versions, or delete markers) fails like AWS
  ("The bucket you tried to delete is not empty") instead of moto's silent
  no-op, so the stack ends DELETE_FAILED.
* Bucket policies: moto evaluates only ``Principal: "*"`` statements and treats
  any ``Condition`` as failed, which turns a ``Deny`` conditioned on
  ``aws:SecureTransport = false`` (the usual "TLS only" statement) into a deny
  of every object request.  AWS applies a statement only when its conditions
  match; a client of the stand-in stands for a client of AWS, which always uses
  TLS, so ``aws:SecureTransport`` is ``true``.  Statements whose conditions
  cannot be evaluated here are ignored (not applied).
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.s3.exceptions import BucketNotEmpty
from moto.s3.models import FakeBucket, s3_backends
from moto.utilities.utils import get_partition

from . import _cfn

# Request context the stand-in assumes for every request (see module doc).
REQUEST_CONTEXT = {"aws:securetransport": ["true"]}


def _backend(account_id: str, region_name: str) -> Any:
    return s3_backends[account_id][get_partition(region_name)]


# ---------------------------------------------------------- policy checks


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def condition_matches(conditions: dict[str, Any], context: dict[str, list[str]] | None = None) -> bool | None:
    """True/False when every condition can be evaluated against ``context``
    (lower-case keys), None otherwise."""
    if context is None:
        context = REQUEST_CONTEXT
    for operator, block in conditions.items():
        base = operator.replace("ForAnyValue:", "").replace("ForAllValues:", "")
        if_exists = base.endswith("IfExists")
        base = base[: -len("IfExists")] if if_exists else base
        for key, expected in (block or {}).items():
            actual = context.get(key.lower())
            if actual is None:
                if base == "Null":
                    if str(as_list(expected)[0]).lower() != "true":
                        return False
                    continue
                if if_exists:
                    continue
                return None
            wanted = [str(v) for v in as_list(expected)]
            if base == "Bool":
                ok = any(a.lower() == w.lower() for a in actual for w in wanted)
            elif base in ("StringEquals", "ArnEquals"):
                ok = any(a == w for a in actual for w in wanted)
            elif base == "StringEqualsIgnoreCase":
                ok = any(a.lower() == w.lower() for a in actual for w in wanted)
            elif base in ("StringNotEquals", "ArnNotEquals"):
                ok = all(a != w for a in actual for w in wanted)
            elif base in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(a, w) for a in actual for w in wanted)
            elif base in ("StringNotLike", "ArnNotLike"):
                ok = not any(fnmatch.fnmatchcase(a, w) for a in actual for w in wanted)
            elif base == "Null":
                ok = str(wanted[0]).lower() == "false"
            else:
                return None
            if not ok:
                return False
    return True


def matches(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, str(p)) for p in as_list(patterns))


def _is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in as_list(principal.get("AWS"))
    return False


def _get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    from moto.iam.access_control import PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = self.policy.decode() if isinstance(self.policy, bytes) else self.policy
    statements = as_list(json.loads(policy).get("Statement"))
    permitted = False
    for statement in statements:
        # like moto: only statements for everyone ("*") are taken into account
        if not _is_everyone(statement.get("Principal")):
            continue
        if "NotAction" in statement:
            if matches(statement["NotAction"], action):
                continue
        elif not matches(statement.get("Action"), action):
            continue
        if "NotResource" in statement:
            if matches(statement["NotResource"], resource):
                continue
        elif "Resource" in statement and not matches(statement["Resource"], resource):
            continue
        if statement.get("Condition"):
            if condition_matches(statement["Condition"]) is not True:
                continue
        if statement.get("Effect") == "Deny":
            return PermissionResult.DENIED
        permitted = True
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


# ----------------------------------------------------------- AWS::S3::Bucket


def _lifecycle_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    rules = []
    for rule in config.get("Rules") or []:
        api: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
        if rule.get("Id"):
            api["ID"] = rule["Id"]
        api["Filter"] = {"Prefix": rule.get("Prefix") or ""}
        if rule.get("ExpirationInDays") is not None:
            api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
        elif rule.get("ExpirationDate"):
            api["Expiration"] = {"Date": rule["ExpirationDate"]}
        elif rule.get("ExpiredObjectDeleteMarker") is not None:
            api["Expiration"] = {"ExpiredObjectDeleteMarker": _cfn.as_bool(rule["ExpiredObjectDeleteMarker"])}
        nve = rule.get("NoncurrentVersionExpiration")
        if nve:
            api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(nve["NoncurrentDays"])}
        elif rule.get("NoncurrentVersionExpirationInDays") is not None:
            api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
        aimu = rule.get("AbortIncompleteMultipartUpload")
        if aimu:
            api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(aimu["DaysAfterInitiation"])}
        rules.append(api)
    return rules


def _apply_bucket_config(backend: Any, name: str, props: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    old = old or {}
    versioning = props.get("VersioningConfiguration")
    if versioning:
        backend.put_bucket_versioning(name, versioning.get("Status", "Suspended"))
    elif old.get("VersioningConfiguration"):
        backend.put_bucket_versioning(name, "Suspended")
    pab = props.get("PublicAccessBlockConfiguration")
    if pab:
        backend.put_public_access_block(
            name,
            {
                k: "true" if _cfn.as_bool(pab.get(k)) else "false"
                for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            },
        )
    elif old.get("PublicAccessBlockConfiguration"):
        backend.delete_public_access_block(name)
    ownership = props.get("OwnershipControls")
    if ownership and ownership.get("Rules"):
        backend.put_bucket_ownership_controls(name, ownership["Rules"][0]["ObjectOwnership"])
    elif old.get("OwnershipControls"):
        backend.delete_bucket_ownership_controls(name)
    lifecycle = props.get("LifecycleConfiguration")
    if lifecycle:
        backend.put_bucket_lifecycle_configuration(name, _lifecycle_rules(lifecycle))
    elif old.get("LifecycleConfiguration"):
        backend.delete_bucket_lifecycle(name)


class BucketHandler(FakeBucket):
    """AWS::S3::Bucket"""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> FakeBucket:
        bucket = FakeBucket.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        backend = _backend(account_id, region_name)
        try:
            _apply_bucket_config(backend, bucket.name, _cfn.props_of(cloudformation_json))
        except Exception:
            backend.delete_bucket(bucket.name)
            raise
        return bucket

    @classmethod
    def irlab_update(
        cls, bucket: FakeBucket, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> FakeBucket:
        if old_props.get("BucketName") != new_props.get("BucketName"):
            raise _cfn.NeedsReplacement()
        backend = _backend(account_id, region_name)
        _apply_bucket_config(backend, bucket.name, new_props, old_props)
        if "BucketEncryption" in new_props:
            from moto.s3.utils import cfn_to_api_encryption

            backend.put_bucket_encryption(bucket.name, cfn_to_api_encryption(new_props["BucketEncryption"]))
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        if old_tags != new_tags:
            current = backend.tagger.get_tag_dict_for_resource(bucket.arn)
            for key in old_tags:
                current.pop(key, None)
            current.update(new_tags)
            backend.put_bucket_tagging(bucket.name, current)
        return bucket

    @classmethod
    def irlab_delete(cls, bucket: FakeBucket, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if bucket.name not in backend.buckets:
            return
        if len(bucket.keys) or bucket.multiparts:
            raise BucketNotEmpty(bucket.name)
        backend.delete_bucket(bucket.name)

    @classmethod
    def irlab_tag(cls, bucket: FakeBucket, tags: dict[str, str], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        current = backend.tagger.get_tag_dict_for_resource(bucket.arn)
        merged = {**tags, **current}
        for key, value in tags.items():
            if key.startswith("aws:"):
                merged[key] = value
        backend.put_bucket_tagging(bucket.name, merged)


# ----------------------------------------------------- AWS::S3::BucketPolicy


class BucketPolicyResource(CloudFormationModel):
    """AWS::S3::BucketPolicy (Ref: the bucket name)."""

    def __init__(self, bucket_name: str):
        self.bucket_name = bucket_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @property
    def physical_resource_id(self) -> str:
        return self.bucket_name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> BucketPolicyResource:
        props = _cfn.props_of(cloudformation_json)
        bucket = props["Bucket"]
        _backend(account_id, region_name).put_bucket_policy(
            bucket, _cfn.policy_text(props["PolicyDocument"]).encode()
        )
        return cls(bucket)

    @classmethod
    def irlab_update(
        cls, resource: BucketPolicyResource, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> BucketPolicyResource:
        if old_props.get("Bucket") != new_props.get("Bucket"):
            raise _cfn.NeedsReplacement()
        _backend(account_id, region_name).put_bucket_policy(
            resource.bucket_name, _cfn.policy_text(new_props["PolicyDocument"]).encode()
        )
        return resource

    @classmethod
    def irlab_delete(cls, resource: BucketPolicyResource, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if resource.bucket_name in backend.buckets:
            backend.delete_bucket_policy(resource.bucket_name)


def apply() -> None:
    FakeBucket.get_permission = _get_permission
    _cfn.register(BucketHandler)
    _cfn.register(BucketPolicyResource)
