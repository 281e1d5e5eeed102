"""What a class of labs runs into on AWS: the quotas (patches/servicequotas.py)
and AssumeRole into attendees' accounts (patches/sts.py)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION

OTHER = "111122223333"


def _set_quota(endpoint: str, account: str, service: str, code: str, value: float, region: str = REGION) -> None:
    body = json.dumps({"account": account, "region": region, "service_code": service, "quota_code": code, "value": value})
    request = urllib.request.Request(
        f"{endpoint}/moto-api/irlab/service-quotas", data=body.encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _in_account(endpoint: str, account: str, service: str) -> Any:
    """A client acting in another account of the stand-in (moto's account header): how a test
    sets up an attendee's account before the instructor assumes a role in it."""
    client = boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    client.meta.events.register("before-send.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
    return client


def _trust(principal: str, external_id: str | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_service_quotas_answer_the_lab_quotas_and_an_applied_value_wins(aws, emulator):
    """GetServiceQuota gives the applied value, GetAWSDefaultServiceQuota AWS's
    default: VPCs per Region 5, EC2-VPC Elastic IPs 5; the standard-instance vCPU
    quota has no fixed AWS figure (5 as default, 64 applied in the stand-in). A
    quota Service Quotas does not know is NoSuchResourceException.
    https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetServiceQuota.html
    https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetAWSDefaultServiceQuota.html
    https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html
    """
    sq = aws("service-quotas")
    assert sq.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"] == 5.0
    assert sq.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode="L-0263D0A3")["Quota"]["Value"] == 5.0
    vcpu = sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")["Quota"]
    assert vcpu["Value"] == 64.0 and vcpu["QuotaName"].startswith("Running On-Demand Standard")
    _set_quota(emulator.endpoint, ACCOUNT_ID, "ec2", "L-1216C47A", 8)
    assert sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")["Quota"]["Value"] == 8.0
    assert sq.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")["Quota"]["Value"] == 5.0
    with pytest.raises(ClientError) as e:
        sq.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode="L-NOTAQUOTA")
    assert e.value.response["Error"]["Code"] == "NoSuchResourceException"


def test_vpcs_beyond_the_quota_are_refused(aws):
    """The default VPC counts; the sixth VPC of a region fails with
    VpcLimitExceeded.
    https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    """
    ec2 = aws("ec2")
    have = len(ec2.describe_vpcs()["Vpcs"])
    for i in range(5 - have):
        ec2.create_vpc(CidrBlock=f"10.{50 + i}.0.0/16")
    with pytest.raises(ClientError) as e:
        ec2.create_vpc(CidrBlock="10.99.0.0/16")
    assert e.value.response["Error"]["Code"] == "VpcLimitExceeded"
    # another region has its own quota
    aws("ec2", "us-west-2").create_vpc(CidrBlock="10.99.0.0/16")


def test_standard_instances_beyond_the_vcpu_quota_are_refused(aws, emulator):
    """Pending and running standard instances count in vCPUs (a t3.micro has 2);
    a launch beyond the quota fails with VcpuLimitExceeded, and a terminated
    instance frees its vCPUs.
    https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html
    """
    _set_quota(emulator.endpoint, ACCOUNT_ID, "ec2", "L-1216C47A", 4)
    ec2 = aws("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    first = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=2, MaxCount=2)["Instances"]
    with pytest.raises(ClientError) as e:
        ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    assert e.value.response["Error"]["Code"] == "VcpuLimitExceeded"
    assert "vCPU limit of 4" in e.value.response["Error"]["Message"]
    ec2.terminate_instances(InstanceIds=[first[0]["InstanceId"]])
    ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)


def test_a_region_holds_five_trails_a_multi_region_trail_counting_everywhere(aws):
    """Trails per Region: 5, not adjustable; a multi-Region trail of another
    home Region counts too. The sixth is MaximumNumberOfTrailsExceededException.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html
    https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
    """
    s3 = aws("s3")
    s3.create_bucket(Bucket="trail-logs")
    ct_service = {"Service": "cloudtrail.amazonaws.com"}
    s3.put_bucket_policy(
        Bucket="trail-logs",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": ct_service, "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::trail-logs"},
                    {"Effect": "Allow", "Principal": ct_service, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::trail-logs/AWSLogs/*"},
                ],
            }
        ),
    )
    aws("cloudtrail", "us-west-2").create_trail(Name="everywhere", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    ct = aws("cloudtrail")
    for i in range(4):
        ct.create_trail(Name=f"trail-{i}", S3BucketName="trail-logs")
    with pytest.raises(ClientError) as e:
        ct.create_trail(Name="t-sixth", S3BucketName="trail-logs")
    assert e.value.response["Error"]["Code"] == "MaximumNumberOfTrailsExceededException"


def test_assume_role_needs_an_existing_role_that_trusts_the_caller(aws, emulator):
    """AssumeRole of a role that does not exist, or whose trust policy names
    another account, or that needs an ExternalId not given, is AccessDenied;
    with the right trust it succeeds and the session acts in the role's
    account.
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html
    """
    sts = aws("sts")
    iam = _in_account(emulator.endpoint, OTHER, "iam")
    iam.create_role(RoleName="Trusting", AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    iam.create_role(RoleName="Stranger", AssumeRolePolicyDocument=_trust("arn:aws:iam::444455556666:root"))
    iam.create_role(RoleName="Guarded", AssumeRolePolicyDocument=_trust(ACCOUNT_ID, external_id="class-42"))

    def denied(arn: str, **kw: Any) -> None:
        with pytest.raises(ClientError) as e:
            sts.assume_role(RoleArn=arn, RoleSessionName="irlab-c", **kw)
        assert e.value.response["Error"]["Code"] == "AccessDenied"
        assert f"is not authorized to perform: sts:AssumeRole on resource: {arn}" in e.value.response["Error"]["Message"]

    denied(f"arn:aws:iam::{OTHER}:role/Missing")
    denied(f"arn:aws:iam::{OTHER}:role/Stranger")
    denied(f"arn:aws:iam::{OTHER}:role/Guarded")
    denied(f"arn:aws:iam::{OTHER}:role/Guarded", ExternalId="wrong")
    sts.assume_role(RoleArn=f"arn:aws:iam::{OTHER}:role/Guarded", RoleSessionName="irlab-c", ExternalId="class-42")

    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{OTHER}:role/Trusting", RoleSessionName="irlab-c")["Credentials"]
    session = boto3.client(
        "sts",
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert session.get_caller_identity()["Account"] == OTHER


def test_a_role_session_needs_the_actions_aws_documents_for_delete_objects_and_head_bucket(aws, emulator):
    """The IAM enforcement authorises DeleteObjects as s3:DeleteObject and
    HeadBucket as s3:ListBucket, as the S3 API reference says; `down` in an
    attendee's account removes the lab's objects from the shared bucket with
    them.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html
    """
    s3, iam, sts = aws("s3"), aws("iam"), aws("sts")
    s3.create_bucket(Bucket="shared-bucket")
    s3.put_object(Bucket="shared-bucket", Key="irlab-history/a/r1.json", Body=b"{}")
    trust = _trust(f"arn:aws:iam::{ACCOUNT_ID}:root")

    def session(name: str, actions: list[str]) -> Any:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": [
            "arn:aws:s3:::shared-bucket", "arn:aws:s3:::shared-bucket/*"]}]}
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", RoleSessionName="test")["Credentials"]
        return boto3.client("s3", endpoint_url=emulator.endpoint, region_name=REGION, aws_access_key_id=c["AccessKeyId"],
                            aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"],
                            config=boto3.session.Config(s3={"addressing_style": "path"}))

    denied = session("reader", ["s3:GetObject"])
    for call in (lambda: denied.head_bucket(Bucket="shared-bucket"),
                 lambda: denied.delete_objects(Bucket="shared-bucket", Delete={"Objects": [{"Key": "irlab-history/a/r1.json"}]})):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] in ("AccessDenied", "403")
    allowed = session("cleaner", ["s3:ListBucket", "s3:DeleteObject"])
    allowed.head_bucket(Bucket="shared-bucket")
    allowed.delete_objects(Bucket="shared-bucket", Delete={"Objects": [{"Key": "irlab-history/a/r1.json"}]})
    assert s3.list_objects_v2(Bucket="shared-bucket").get("KeyCount", 0) == 0



def test_an_account_organizations_creates_can_be_administered_through_its_role(aws, emulator):
    """AWS: CreateAccount creates ``OrganizationAccountAccessRole`` in the new account, trusted
    by the management account and granting full administrative permissions
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_access.html).
    moto created the role without any permission: assumed, it could do nothing."""
    orgs = aws("organizations")
    try:
        orgs.create_organization(FeatureSet="ALL")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "AlreadyInOrganizationException"
    status = orgs.create_account(Email="attendee@example.com", AccountName="attendee")["CreateAccountStatus"]
    account = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    creds = aws("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="instructor"
    )["Credentials"]
    ssm = boto3.client(
        "ssm",
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    ssm.put_parameter(Name="/irlab/probe", Value="x", Type="String")
    assert ssm.get_parameter(Name="/irlab/probe")["Parameter"]["Value"] == "x"
