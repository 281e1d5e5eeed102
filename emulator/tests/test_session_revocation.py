"""Revoking an instance role's active sessions (patches/ec2_imds.py, sts.py,
_iam_enforce.py): the credentials IMDS hands an instance, and the deny-all
policy on ``aws:TokenIssueTime`` that invalidates those already issued."""

from __future__ import annotations

import datetime
import json
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, eventually
from test_ssm import SSM_CORE, _profile, _run

REVOKE_POLICY = "AWSRevokeOlderSessions"


def _credentials(emulator: Any, instance_id: str, account: str | None = None) -> tuple[int, dict[str, Any]]:
    url = f"{emulator.endpoint}/moto-api/irlab/ec2/instance-credentials?instanceId={instance_id}&region={REGION}"
    request = urllib.request.Request(url, headers={"x-moto-account-id": account} if account else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _client(emulator: Any, service: str, document: dict[str, Any]) -> Any:
    return boto3.client(
        service,
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id=document["AccessKeyId"],
        aws_secret_access_key=document["SecretAccessKey"],
        aws_session_token=document["Token"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _running(ec2: Any, instance_id: str) -> None:
    def running() -> bool:
        state = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]
        return state == "running"

    assert eventually(running, timeout=30), f"{instance_id} never ran"


def _iso(value: datetime.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _revoke(iam: Any, role: str, before: datetime.datetime) -> None:
    """The inline policy the IAM console's "Revoke active sessions" attaches."""
    iam.put_role_policy(
        RoleName=role,
        PolicyName=REVOKE_POLICY,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": ["*"],
                        "Resource": ["*"],
                        "Condition": {"DateLessThan": {"aws:TokenIssueTime": _iso(before)}},
                    }
                ],
            }
        ),
    )


def _role_of(iam: Any, profile: str) -> str:
    return iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"][0]["RoleName"]


def _denied(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response


def test_instance_credentials_are_a_session_of_the_profile_role(aws, emulator):
    """An application on an instance reads its role's credentials from IMDS
    (iam/security-credentials/ROLE): Code Success, Type AWS-HMAC, AccessKeyId,
    SecretAccessKey, Token, Expiration, LastUpdated; they act as a session of
    the instance profile's role (GetCallerIdentity names assumed-role/ROLE/...)
    with that role's permissions. Without an instance profile IMDS has no
    credentials (404).
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html
    """
    ec2, iam = aws("ec2"), aws("iam")
    profile = _profile(iam, [SSM_CORE])
    role = _role_of(iam, profile)
    victim, bare = _run(ec2, profile), _run(ec2)
    _running(ec2, victim)
    _running(ec2, bare)

    status, document = _credentials(emulator, victim)
    assert status == 200, document
    assert document["Code"] == "Success" and document["Type"] == "AWS-HMAC"
    assert document["AccessKeyId"].startswith("ASIA") and document["SecretAccessKey"] and document["Token"]
    issued = datetime.datetime.fromisoformat(document["LastUpdated"].replace("Z", "+00:00"))
    expires = datetime.datetime.fromisoformat(document["Expiration"].replace("Z", "+00:00"))
    assert abs((datetime.datetime.now(datetime.timezone.utc) - issued).total_seconds()) < 10
    assert expires > issued + datetime.timedelta(minutes=5)

    identity = _client(emulator, "sts", document).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/{victim}"
    # the role's own permissions: AmazonSSMManagedInstanceCore allows ssm:UpdateInstanceInformation, not EC2
    response = _denied(lambda: _client(emulator, "ec2", document).describe_instances())
    assert response["Error"]["Code"] == "UnauthorizedOperation"
    assert "because no identity-based policy allows the ec2:DescribeInstances action" in response["Error"]["Message"]

    status, body = _credentials(emulator, bare)
    assert status == 404 and "no instance profile" in body["message"]
    status, body = _credentials(emulator, "i-0123456789abcdef0")
    assert status == 404
    ec2.stop_instances(InstanceIds=[victim])
    status, body = _credentials(emulator, victim)
    assert status == 409


def test_revoking_active_sessions_denies_credentials_issued_before(aws, emulator):
    """Revoking a role's active sessions attaches an inline policy that denies
    every action when aws:TokenIssueTime is earlier than the revocation time
    (DateLessThan): credentials issued before it - those an attacker took from
    the instance - are denied at once, with the explicit-deny text ("... with
    an explicit deny in an identity-based policy"); credentials issued after
    it (the instance's next ones) still work, and removing the policy restores
    the old ones (policies are evaluated on every request). Disassociating the
    instance profile alone leaves issued credentials valid.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_disable-perms.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-tokenissuetime
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
    """
    ec2, iam = aws("ec2"), aws("iam")
    profile = _profile(
        iam, inline={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}
    )
    role = _role_of(iam, profile)
    victim = _run(ec2, profile)
    _running(ec2, victim)

    _, stolen = _credentials(emulator, victim)
    s3 = _client(emulator, "s3", stolen)
    s3.list_buckets()

    # disassociating the profile stops new credentials only
    association = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [victim]}]
    )["IamInstanceProfileAssociations"][0]["AssociationId"]
    ec2.disassociate_iam_instance_profile(AssociationId=association)
    s3.list_buckets()
    assert _credentials(emulator, victim)[0] == 404
    ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": profile}, InstanceId=victim)

    time.sleep(1.1)  # aws:TokenIssueTime has whole seconds
    _revoke(iam, role, datetime.datetime.now(datetime.timezone.utc))
    response = _denied(s3.list_buckets)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403 and response["Error"]["Code"] == "AccessDenied"
    assert response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/{victim} is not authorized to perform: "
        "s3:ListAllMyBuckets on resource: * with an explicit deny in an identity-based policy"
    ), response["Error"]["Message"]

    time.sleep(1.1)
    _, fresh = _credentials(emulator, victim)
    _client(emulator, "s3", fresh).list_buckets()
    _denied(s3.list_buckets)

    iam.delete_role_policy(RoleName=role, PolicyName=REVOKE_POLICY)
    s3.list_buckets()


def test_token_issue_time_is_the_moment_sts_issued_the_session(aws, emulator):
    """aws:TokenIssueTime is the date and time the temporary credentials were
    issued, whatever their duration (DurationSeconds 900 here): a policy
    denying tokens issued after a time (DateGreaterThan) applies to a session
    issued after it and not to one issued before.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-tokenissuetime
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date
    """
    iam, sts = aws("iam"), aws("sts")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName="short-sessions", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="short-sessions",
        PolicyName="allow",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}),
    )

    def session() -> Any:
        c = sts.assume_role(RoleArn=role_arn, RoleSessionName="short", DurationSeconds=900)["Credentials"]
        return _client(emulator, "s3", {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"], "Token": c["SessionToken"]})

    early = session()
    time.sleep(1.1)
    cut = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.1)
    late = session()
    iam.put_role_policy(
        RoleName="short-sessions",
        PolicyName="deny-new",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"DateGreaterThan": {"aws:TokenIssueTime": _iso(cut)}}}]}
        ),
    )
    early.list_buckets()
    assert _denied(late.list_buckets)["Error"]["Code"] == "AccessDenied"
