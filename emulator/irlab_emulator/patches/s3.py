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
  cannot be evaluated here are ignored (not applied).  For requests signed
  by a role session the bucket policy is also the resource-based policy
  ``_iam_enforce`` evaluates (``resource_policy``), so a same-account role
  that only the bucket policy names may write.
* S3 Object Lock ("Locking objects with Object Lock",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html;
  "Configuring S3 Object Lock",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html):
  ``AWS::S3::Bucket`` ``ObjectLockEnabled`` and ``ObjectLockConfiguration``
  (default retention, GOVERNANCE or COMPLIANCE, Days or Years) are applied
  (moto ignored both, so the bucket had no lock); versioning comes with the
  lock.  moto already refuses to delete a locked version
  (``AccessDenied``) and honours ``x-amz-bypass-governance-retention``; AWS
  also requires the caller to have ``s3:BypassGovernanceRetention``
  ("Bypassing governance mode",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass):
  a role session without it is refused (DeleteObject 403 ``AccessDenied``
  with IAM's message, DeleteObjects an ``AccessDenied`` entry) where moto let
  it through; a header value other than ``true`` does not bypass (moto took
  any value).
* Additional checksums ("Checking object integrity",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity-upload.html):
  a PutObject ``x-amz-checksum-sha256`` (also ``-sha1``, ``-crc32``) is
  verified against the body: a mismatch fails 400 ``BadDigest`` "The SHA256
  you specified did not match the calculated checksum." (moto stored the
  object, and without ``x-amz-sdk-checksum-algorithm`` dropped the checksum);
  the value is stored and returned by PutObject, HeadObject/GetObject with
  ``ChecksumMode: ENABLED`` and GetObjectAttributes.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.s3.exceptions import AccessDeniedByLock, BucketNotEmpty, S3ClientError
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


def _apply_object_lock(backend: Any, name: str, props: dict[str, Any]) -> None:
    """``ObjectLockEnabled`` (versioning comes with it) and the default
    retention of ``ObjectLockConfiguration``."""
    config = props.get("ObjectLockConfiguration") or {}
    if not (_cfn.as_bool(props.get("ObjectLockEnabled")) or config.get("ObjectLockEnabled") == "Enabled"):
        return
    bucket = backend.get_bucket(name)
    bucket.object_lock_enabled = True
    bucket.versioning_status = "Enabled"
    retention = (config.get("Rule") or {}).get("DefaultRetention") or {}
    days, years = retention.get("Days"), retention.get("Years")
    backend.put_object_lock_configuration(
        name,
        lock_enabled=True,
        mode=retention.get("Mode"),
        days=int(days) if days not in (None, "") else None,
        years=int(years) if years not in (None, "") else None,
    )


def _apply_bucket_config(backend: Any, name: str, props: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    old = old or {}
    _apply_object_lock(backend, name, props)
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


# ------------------------------------------------------------- Object Lock


class BypassDenied(AccessDeniedByLock):
    """A bypass of governance retention the caller may not make: 403
    AccessDenied with IAM's message (DeleteObjects reports it as a locked
    object's AccessDenied entry, as moto reports locks)."""

    def __init__(self, message: str) -> None:
        S3ClientError.__init__(self, "AccessDenied", message)


def _governance_locked(backend: Any, bucket_name: str, key_name: str, version_id: Any) -> bool:
    """Whether the version is held only by GOVERNANCE retention (so a bypass
    would release it)."""
    if version_id is None:
        return False
    try:
        bucket = backend.get_bucket(bucket_name)
    except Exception:  # noqa: BLE001 - moto answers NoSuchBucket itself
        return False
    for key in bucket.keys.getlist(key_name, []):
        if str(getattr(key, "version_id", "")) == str(version_id) and hasattr(key, "is_locked"):
            return key.lock_mode == "GOVERNANCE" and key.is_locked(governance_bypass=False) and not key.is_locked(governance_bypass=True)
    return False


def _default_retention(self: FakeBucket) -> str:
    """The retain-until date of a new object version: now plus the default
    retention's Days or Years (the other one unset; moto multiplied None)."""
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    now += datetime.timedelta(days=int(self.default_lock_days or 0) + 365 * int(self.default_lock_years or 0))
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def _wrap_delete_object() -> None:
    from moto.s3.models import S3Backend

    original = S3Backend.delete_object
    if getattr(original, "_irlab_lock", False):
        return

    def delete_object(self: Any, bucket_name: str, key_name: str, version_id: str | None = None, bypass: Any = False) -> Any:
        bypass = str(bypass).lower() == "true" if not isinstance(bypass, bool) else bypass
        if bypass and _governance_locked(self, bucket_name, key_name, version_id):
            from . import _iam_enforce

            try:
                _iam_enforce.require("s3:BypassGovernanceRetention", f"arn:{self.partition}:s3:::{bucket_name}/{key_name}")
            except _iam_enforce.AccessDenied as denied:
                raise BypassDenied(denied.message) from denied
        return original(self, bucket_name, key_name, version_id=version_id, bypass=bypass)

    delete_object._irlab_lock = True  # type: ignore[attr-defined]
    S3Backend.delete_object = delete_object  # type: ignore[method-assign]


# --------------------------------------------------------------- checksums

CHECKSUM_ALGORITHMS = ("SHA256", "SHA1", "CRC32", "CRC32C", "CRC64NVME")


class BadDigest(S3ClientError):
    def __init__(self, algorithm: str) -> None:
        super().__init__("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")


def _computable(algorithm: str) -> bool:
    if algorithm in ("SHA256", "SHA1", "CRC32"):
        return True
    if algorithm == "CRC32C":
        try:
            import crc32c  # noqa: F401
        except ImportError:
            return False
        return True
    if algorithm == "CRC64NVME":
        from moto.s3.utils import HAS_CRT

        return bool(HAS_CRT)
    return False


def _wrap_get_checksum() -> None:
    """PutObject's ``x-amz-checksum-*``: verified against the body and kept
    (with or without ``x-amz-sdk-checksum-algorithm``)."""
    from moto.s3.responses import S3Response
    from moto.s3.utils import compute_checksum

    original = S3Response._get_checksum
    if getattr(original, "_irlab_checksum", False):
        return

    def _get_checksum(self: Any, response_headers: dict[str, Any]) -> tuple[str, str | None]:
        declared = (self.headers.get("x-amz-sdk-checksum-algorithm") or "").upper()
        given = {a: self.headers.get(f"x-amz-checksum-{a.lower()}") for a in CHECKSUM_ALGORITHMS}
        given = {a: v for a, v in given.items() if v}
        body = self.body or b""
        if isinstance(body, str):
            body = body.encode()
        for algorithm, value in given.items():
            if _computable(algorithm) and compute_checksum(body, algorithm=algorithm).decode() != value:
                raise BadDigest(algorithm)
        if given and not declared:
            algorithm, value = next(iter(given.items()))
            response_headers[f"x-amz-checksum-{algorithm.lower()}"] = value
            return algorithm, value
        return original(self, response_headers)

    _get_checksum._irlab_checksum = True  # type: ignore[attr-defined]
    S3Response._get_checksum = _get_checksum  # type: ignore[method-assign]


def bucket_policy(bucket_name: str) -> Any:
    """The bucket's policy document (None without one or without the
    bucket), for ``_iam_enforce`` to evaluate as the resource-based policy."""
    from moto.s3.models import s3_backends as backends

    owner = backends.bucket_accounts.get(bucket_name)
    if owner is None:
        return None
    partition, account = owner
    bucket = backends[account][partition].buckets.get(bucket_name)
    policy = getattr(bucket, "policy", None)
    if not policy:
        return None
    return json.loads(policy.decode() if isinstance(policy, bytes) else policy)


def apply() -> None:
    FakeBucket.get_permission = _get_permission
    FakeBucket.default_retention = _default_retention  # type: ignore[method-assign]
    _wrap_delete_object()
    _wrap_get_checksum()
    _cfn.register(BucketHandler)
    _cfn.register(BucketPolicyResource)
