"""Service Quotas, and the three quotas a class of labs runs into, enforced.

moto 5.2.5 knows the VPC service's default quotas only (``GetServiceQuota`` for
``vpc``; ``GetAWSDefaultServiceQuota`` is not implemented) and enforces none of
them, so a class that would stop at AWS's fifth VPC comes up in the stand-in.
Here:

* ``GetServiceQuota`` / ``GetAWSDefaultServiceQuota`` for

  - ``vpc`` ``L-F678F1CE`` VPCs per Region, default 5
    (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html);
  - ``ec2`` ``L-1216C47A`` Running On-Demand Standard (A, C, D, H, I, M, R, T,
    Z) instances, in vCPUs
    (https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html).
    AWS publishes no fixed default: accounts get a value that grows with use.
    The stand-in answers 5 as the AWS default and applies 64 to its accounts
    (an account in regular use); a test sets it lower;
  - ``ec2`` ``L-0263D0A3`` EC2-VPC Elastic IPs, default 5
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html#using-instance-addressing-limit).

  CloudTrail's "trails per Region" (5) is not adjustable and not asked through
  Service Quotas
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html).
* Enforcement, with AWS's errors:

  - ``CreateVpc`` beyond the VPC quota: ``VpcLimitExceeded``;
  - ``CreateTrail`` beyond 5 trails in the region (a multi-Region trail counts
    in every Region): ``MaximumNumberOfTrailsExceededException``;
  - ``RunInstances`` of a standard type beyond the vCPU quota, counting pending
    and running instances: ``VcpuLimitExceeded``.

* ``POST /moto-api/irlab/service-quotas`` with ``{"account": A, "region": R,
  "service_code": S, "quota_code": Q, "value": N}`` applies a quota value (what
  an approved increase, or a smaller account, would show); ``GET`` lists the
  applied values.  ``POST /moto-api/reset`` forgets them.
"""

from __future__ import annotations

import json
import threading
from typing import Any

_lock = threading.Lock()
# (account, region, service_code, quota_code) -> applied value
_applied: dict[tuple[str, str, str, str], float] = {}

STANDARD_VCPUS = ("ec2", "L-1216C47A")
VPCS = ("vpc", "L-F678F1CE")
EIPS = ("ec2", "L-0263D0A3")
TRAILS_PER_REGION = 5

_QUOTAS: dict[tuple[str, str], dict[str, Any]] = {
    VPCS: {
        "QuotaName": "VPCs per Region",
        "ServiceName": "Amazon Virtual Private Cloud (Amazon VPC)",
        "Unit": "None",
        "default": 5.0,
        "applied": 5.0,
    },
    STANDARD_VCPUS: {
        "QuotaName": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
        "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
        "Unit": "None",
        "default": 5.0,
        "applied": 64.0,
    },
    EIPS: {
        "QuotaName": "EC2-VPC Elastic IPs",
        "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
        "Unit": "None",
        "default": 5.0,
        "applied": 5.0,
    },
}

_NON_STANDARD_PREFIXES = ("inf", "dl", "hpc", "trn", "mac")


def applied(account: str, region: str, key: tuple[str, str]) -> float:
    with _lock:
        value = _applied.get((account, region, *key))
    return value if value is not None else _QUOTAS[key]["applied"]


def _quota(account: str, region: str, key: tuple[str, str], value: float) -> dict[str, Any]:
    q = _QUOTAS[key]
    return {
        "ServiceCode": key[0],
        "ServiceName": q["ServiceName"],
        "QuotaArn": f"arn:aws:servicequotas:{region}:{account}:{key[0]}/{key[1]}",
        "QuotaCode": key[1],
        "QuotaName": q["QuotaName"],
        "Value": value,
        "Unit": q["Unit"],
        "Adjustable": True,
        "GlobalQuota": False,
    }


def is_standard(instance_type: str) -> bool:
    prefix = ""
    for c in instance_type:
        if not c.isalpha():
            break
        prefix += c
    return instance_type[:1] in "acdhimrtz" and prefix not in _NON_STANDARD_PREFIXES


def vcpus(instance_type: str) -> int:
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    info = INSTANCE_TYPES.get(instance_type) or {}
    return int((info.get("VCpuInfo") or {}).get("DefaultVCpus") or 2)


def _standard_vcpus_in_use(backend: Any) -> int:
    total = 0
    for reservation in backend.reservations.values():
        for instance in reservation.instances:
            if instance.state in ("pending", "running") and is_standard(instance.instance_type):
                total += vcpus(instance.instance_type)
    return total


def _trails_in_region(account: str, region: str) -> int:
    from moto.cloudtrail.models import cloudtrail_backends

    count = 0
    for r, backend in cloudtrail_backends[account].items():
        for trail in backend.trails.values():
            if r == region or trail.is_multi_region:
                count += 1
    return count


def _control(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    if request.method == "POST":
        try:
            length = int(headers.get("Content-Length") or 0)
            body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
            key = (str(body["service_code"]), str(body["quota_code"]))
            if key not in _QUOTAS:
                raise KeyError(f"the stand-in models {sorted(_QUOTAS)}")
            with _lock:
                _applied[(str(body["account"]), str(body["region"]), *key)] = float(body["value"])
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"Content-Type": "application/json"}, json.dumps({"error": str(exc)})
    with _lock:
        listing = [
            {"account": a, "region": r, "service_code": s, "quota_code": q, "value": v}
            for (a, r, s, q), v in sorted(_applied.items())
        ]
    return 200, {"Content-Type": "application/json"}, json.dumps({"applied": listing})


def apply() -> None:
    from moto.cloudtrail.models import CloudTrailBackend
    from moto.core.exceptions import JsonRESTError
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import EC2Backend
    from moto.moto_api._internal import urls as moto_api_urls
    from moto.moto_api._internal.models import MotoAPIBackend
    from moto.servicequotas.exceptions import NoSuchResource
    from moto.servicequotas.responses import ServiceQuotasResponse

    moto_api_urls.url_paths["{0}/moto-api/irlab/service-quotas"] = _control
    if getattr(ServiceQuotasResponse, "_irlab_quotas", False):
        return
    ServiceQuotasResponse._irlab_quotas = True  # type: ignore[attr-defined]

    def _key(self: Any) -> tuple[str, str]:
        params = json.loads(self.body or "{}")
        return str(params.get("ServiceCode")), str(params.get("QuotaCode"))

    original_get = ServiceQuotasResponse.get_service_quota

    def get_service_quota(self: Any) -> str:
        key = _key(self)
        if key not in _QUOTAS:
            return original_get(self)
        value = applied(self.current_account, self.region, key)
        return json.dumps({"Quota": _quota(self.current_account, self.region, key, value)})

    def get_aws_default_service_quota(self: Any) -> str:
        key = _key(self)
        if key not in _QUOTAS:
            raise NoSuchResource()
        value = _QUOTAS[key]["default"]
        return json.dumps({"Quota": _quota(self.current_account, self.region, key, value)})

    ServiceQuotasResponse.get_service_quota = get_service_quota  # type: ignore[method-assign]
    ServiceQuotasResponse.get_aws_default_service_quota = get_aws_default_service_quota  # type: ignore[attr-defined]

    original_create_vpc = EC2Backend.create_vpc

    def create_vpc(self: Any, *args: Any, **kwargs: Any) -> Any:
        limit = applied(self.account_id, self.region_name, VPCS)
        # The default VPC is created by the account itself and counts, as on AWS.
        if not kwargs.get("is_default") and len(self.vpcs) >= limit:
            raise EC2ClientError("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
        return original_create_vpc(self, *args, **kwargs)

    EC2Backend.create_vpc = create_vpc  # type: ignore[method-assign]

    original_run = EC2Backend.run_instances

    def run_instances(self: Any, image_id: str, count: int, *args: Any, **kwargs: Any) -> Any:
        instance_type = kwargs.get("instance_type") or "m1.small"
        if is_standard(instance_type):
            limit = applied(self.account_id, self.region_name, STANDARD_VCPUS)
            want = _standard_vcpus_in_use(self) + vcpus(instance_type) * int(count)
            if want > limit:
                raise EC2ClientError(
                    "VcpuLimitExceeded",
                    f"You have requested more vCPU capacity than your current vCPU limit of {int(limit)} allows for "
                    "the instance bucket that the specified instance type belongs to. Please visit "
                    "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
                )
        return original_run(self, image_id, count, *args, **kwargs)

    EC2Backend.run_instances = run_instances  # type: ignore[method-assign]

    original_trail = CloudTrailBackend.create_trail

    def create_trail(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if name not in self.trails and _trails_in_region(self.account_id, self.region_name) >= TRAILS_PER_REGION:
            raise JsonRESTError(
                "MaximumNumberOfTrailsExceededException",
                f"User: {self.account_id} already has {TRAILS_PER_REGION} trails in {self.region_name}.",
            )
        return original_trail(self, name, *args, **kwargs)

    CloudTrailBackend.create_trail = create_trail  # type: ignore[method-assign]

    if not getattr(MotoAPIBackend.reset, "_irlab_quotas", False):
        original_reset = MotoAPIBackend.reset

        def reset(self: Any) -> None:
            with _lock:
                _applied.clear()
            original_reset(self)

        reset._irlab_quotas = True  # type: ignore[attr-defined]
        MotoAPIBackend.reset = reset  # type: ignore[method-assign]
