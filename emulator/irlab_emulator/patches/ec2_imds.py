"""What the instance metadata service (IMDS) hands the code on an EC2 instance:
the role credentials of its instance profile (stand-in control).

On an instance with an instance profile, any process can read
``http://169.254.169.254/latest/meta-data/iam/security-credentials/ROLE`` and
gets a role session of the profile's role: ``{"Code": "Success",
"LastUpdated", "Type": "AWS-HMAC", "AccessKeyId", "SecretAccessKey",
"Token", "Expiration"}``.  EC2 rotates them and makes new ones available at
least five minutes before the old ones expire ("Retrieve security credentials
from instance metadata",
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html).
These are what an attacker on a compromised instance steals, and they stay
valid until they expire even after the profile is disassociated, unless the
role denies sessions issued before a time (``aws:TokenIssueTime``,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html).

The stand-in has no IMDS endpoint; ``GET
/moto-api/irlab/ec2/instance-credentials?instanceId=i-...&region=R`` (header
``x-moto-account-id`` for another account) answers IMDS's document for the
instance, issued now by the stand-in's STS as a session of the profile's role
named after the instance id (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/i-...``,
as instance role sessions appear in CloudTrail); every request made with it
is authorised against the role's policies (``_iam_enforce``), with
``aws:TokenIssueTime`` = the issue time and the keys only instance credentials
carry (``ec2:SourceInstanceARN``, ``aws:EC2InstanceSourceVPC``,
``aws:EC2InstanceSourcePrivateIPv4``,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
The credentials last 6 hours: AWS documents no lifetime, 6 hours is what
published IMDS answers show (an assumption, not a documented figure).

Answers: 200 with the document; 404 ``{"message"}`` where IMDS answers 404
(no instance profile associated, or a profile without a role) or the instance
does not exist; 409 when the instance is not running (no code runs on it to ask
IMDS); 400 for a missing ``instanceId``.
"""

from __future__ import annotations

import datetime
import json
from typing import Any
from urllib.parse import parse_qs, urlparse

CREDENTIAL_LIFETIME_S = 6 * 3600


class NoCredentials(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def instance_role(account_id: str, region: str, instance_id: str) -> tuple[Any, Any]:
    """(instance, role) of a running instance with an instance profile that has
    a role; raises NoCredentials as IMDS would answer."""
    from moto.ec2.models import ec2_backends
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    ec2 = ec2_backends[account_id][region]
    instance = next((i for i in ec2.all_instances() if i.id == instance_id), None)
    if instance is None:
        raise NoCredentials(404, f"The instance ID '{instance_id}' does not exist in {account_id} {region}")
    if instance.state != "running":
        raise NoCredentials(409, f"the instance {instance_id} is {instance.state}: no code runs on it to read IMDS")
    association = ec2.iam_instance_profile_associations.get(instance_id)
    if association is None:
        raise NoCredentials(404, f"Not Found: no instance profile is associated with {instance_id} (IMDS answers 404)")
    iam = iam_backends[account_id][get_partition(region)]
    try:
        profile = iam.get_instance_profile(association.iam_instance_profile.name)
    except Exception as exc:  # noqa: BLE001 - the profile was deleted
        raise NoCredentials(404, f"Not Found: the instance profile of {instance_id} no longer exists") from exc
    if not profile.roles:
        raise NoCredentials(404, f"Not Found: the instance profile {profile.name} has no role (IMDS answers 404)")
    return instance, profile.roles[0]


def issue(account_id: str, region: str, instance_id: str) -> dict[str, str]:
    """IMDS's credentials document for the instance, issued now."""
    from moto.sts.models import sts_backends

    instance, role = instance_role(account_id, region, instance_id)
    assumed = sts_backends[account_id]["aws"].assume_role(
        region_name=region,
        role_session_name=instance_id,
        role_arn=role.arn,
        policy=None,
        duration=CREDENTIAL_LIFETIME_S,
        external_id=None,
    )
    issued = assumed.irlab_issued  # sts.py records it for every session
    assumed.irlab_source_instance = {
        "arn": f"arn:aws:ec2:{region}:{account_id}:instance/{instance_id}",
        "vpc": getattr(instance, "vpc_id", None) or None,
        "ip": getattr(instance, "private_ip", None) or None,
    }
    return {
        "Code": "Success",
        "LastUpdated": _iso(issued),
        "Type": "AWS-HMAC",
        "AccessKeyId": assumed.access_key_id,
        "SecretAccessKey": assumed.secret_access_key,
        "Token": assumed.session_token,
        "Expiration": _iso(issued + datetime.timedelta(seconds=CREDENTIAL_LIFETIME_S)),
    }


def _response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    from moto.core import DEFAULT_ACCOUNT_ID

    json_headers = {"Content-Type": "application/json"}
    if request.method != "GET":
        return 405, json_headers, json.dumps({"message": "use GET"})
    query = parse_qs(urlparse(full_url).query)
    instance_id = (query.get("instanceId") or [""])[0]
    region = (query.get("region") or ["us-east-1"])[0]
    if not instance_id:
        return 400, json_headers, json.dumps({"message": "instanceId is required"})
    account_id = headers.get("x-moto-account-id") or DEFAULT_ACCOUNT_ID
    try:
        document = issue(account_id, region, instance_id)
    except NoCredentials as exc:
        return exc.status, json_headers, json.dumps({"message": exc.message})
    return 200, json_headers, json.dumps(document)


def apply() -> None:
    from moto.moto_api._internal import urls as moto_api_urls

    moto_api_urls.url_paths["{0}/moto-api/irlab/ec2/instance-credentials"] = _response
