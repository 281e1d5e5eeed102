"""Plain service APIs the CLI relies on (extension 8) and the S3/CloudTrail
policy behaviour behind the lab's bucket."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, create_stack, physical_ids, unique

AMI_X86 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
AMI_ARM = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"


def test_public_ami_parameters_and_ssm_parameter_type(aws):
    """Amazon Linux 2023 AMI ids are public Parameter Store parameters under
    /aws/service/ami-amazon-linux-latest/ (x86_64 and arm64); a template
    parameter of type AWS::SSM::Parameter::Value<AWS::EC2::Image::Id> whose
    default is such a path resolves to the AMI id.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters-ami.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html (SSM parameter types)
    """
    ssm, cf, ec2 = aws("ssm"), aws("cloudformation"), aws("ec2")
    x86 = ssm.get_parameter(Name=AMI_X86)["Parameter"]["Value"]
    arm = ssm.get_parameter(Name=AMI_ARM)["Parameter"]["Value"]
    assert x86.startswith("ami-") and arm.startswith("ami-") and x86 != arm
    body = f"""
Parameters:
  Ami: {{Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", Default: {AMI_X86}}}
Resources:
  Vpc: {{Type: AWS::EC2::VPC, Properties: {{CidrBlock: 10.80.0.0/16}}}}
  Subnet: {{Type: AWS::EC2::Subnet, Properties: {{VpcId: !Ref Vpc, CidrBlock: 10.80.0.0/24}}}}
  Instance: {{Type: AWS::EC2::Instance, Properties: {{ImageId: !Ref Ami, InstanceType: t3.micro, SubnetId: !Ref Subnet}}}}
Outputs:
  Ami: {{Value: !Ref Ami}}
"""
    name = unique("ami")
    stack = create_stack(cf, name, body)
    assert stack["Outputs"][0]["OutputValue"] == x86
    instance_id = physical_ids(cf, name)["Instance"]
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert instance["ImageId"] == x86


def test_ssm_parameter_tags(aws):
    """PutParameter with Tags; ListTagsForResource (ResourceType Parameter)
    returns them.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListTagsForResource.html
    """
    ssm = aws("ssm")
    ssm.put_parameter(Name="/irlab/t1/state", Value="{}", Type="String", Tags=[{"Key": "irlab:lab", "Value": "t1"}])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/irlab/t1/state")["TagList"]
    assert tags == [{"Key": "irlab:lab", "Value": "t1"}]


def test_sts_get_caller_identity(aws):
    """GetCallerIdentity returns the account, user id and ARN of the caller.
    https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
    """
    identity = aws("sts").get_caller_identity()
    assert identity["Account"] == ACCOUNT_ID
    assert identity["Arn"].startswith("arn:aws:") and identity["UserId"]


def test_snapshots_filtered_by_tag(aws):
    """DescribeSnapshots with the filter tag:<key> returns only the snapshots
    carrying that tag.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html
    """
    ec2 = aws("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    tagged = ec2.create_snapshot(
        VolumeId=volume,
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "irlab:lab", "Value": "t1"}]}],
    )["SnapshotId"]
    ec2.create_snapshot(VolumeId=volume)
    found = ec2.describe_snapshots(Filters=[{"Name": "tag:irlab:lab", "Values": ["t1"]}], OwnerIds=["self"])
    assert [s["SnapshotId"] for s in found["Snapshots"]] == [tagged]


def test_object_lock_configuration_says_which_bucket_has_object_lock(aws):
    """GetObjectLockConfiguration answers a bucket created with Object Lock with
    ``ObjectLockEnabled: Enabled`` (and its default retention), and a bucket without it with
    ``ObjectLockConfigurationNotFoundError``: how irlab's `down` tells the lab's evidence bucket
    (emptied bypassing governance retention) from the others.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectLockConfiguration.html
    """
    s3 = aws("s3")
    plain, locked = unique("plain"), unique("locked")
    s3.create_bucket(Bucket=plain)
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=locked,
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}},
    )
    conf = s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]
    assert conf["ObjectLockEnabled"] == "Enabled"
    assert (conf["Rule"]["DefaultRetention"]["Mode"], conf["Rule"]["DefaultRetention"]["Days"]) == ("GOVERNANCE", 1)
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket=plain)
    assert e.value.response["Error"]["Code"] == "ObjectLockConfigurationNotFoundError"


def test_versioned_bucket_empties_with_list_object_versions_and_delete_objects(aws):
    """In a versioned bucket a DeleteObject only adds a delete marker;
    ListObjectVersions lists every version and delete marker, and DeleteObjects
    with their version ids removes them permanently, leaving the bucket empty.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
    """
    s3 = aws("s3")
    bucket = unique("versions")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="AWSLogs/a.json.gz", Body=b"1")
    s3.put_object(Bucket=bucket, Key="AWSLogs/a.json.gz", Body=b"2")
    s3.delete_object(Bucket=bucket, Key="AWSLogs/a.json.gz")
    listing = s3.list_object_versions(Bucket=bucket)
    assert len(listing["Versions"]) == 2 and len(listing["DeleteMarkers"]) == 1
    objects = [
        {"Key": v["Key"], "VersionId": v["VersionId"]} for v in listing["Versions"] + listing["DeleteMarkers"]
    ]
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": False})
    assert len(result["Deleted"]) == 3 and not result.get("Errors")
    listing = s3.list_object_versions(Bucket=bucket)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    s3.delete_bucket(Bucket=bucket)


def test_tls_only_bucket_policy_does_not_block_requests(aws):
    """A bucket policy that denies ``s3:*`` to everyone when
    ``aws:SecureTransport`` is ``false`` only refuses plain-HTTP requests: the
    key "aws:SecureTransport" is true when the request is sent over TLS, which is
    how AWS SDK clients reach S3. (Clients of the stand-in stand for such
    clients.) A statement applies only when its conditions match; a Deny
    without a condition still denies.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-securetransport
    https://repost.aws/knowledge-center/s3-bucket-policy-for-config-rule
    """
    s3 = aws("s3")
    bucket = unique("tls")
    s3.create_bucket(Bucket=bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenySecretPrefix",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/secret/*",
            },
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3.put_object(Bucket=bucket, Key="logs/x", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="logs/x")["Body"].read() == b"x"
    s3.put_object(Bucket=bucket, Key="secret/y", Body=b"y")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="secret/y")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def _trail_bucket(s3, bucket: str, trail_arn: str | None) -> None:
    s3.create_bucket(Bucket=bucket)
    if trail_arn is None:
        return
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "s3:GetBucketAcl",
                        "Resource": f"arn:aws:s3:::{bucket}",
                        "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
                    },
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT_ID}/*",
                        "Condition": {
                            "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
                        },
                    },
                ],
            }
        ),
    )


def test_create_trail_checks_the_bucket_policy(aws):
    """CreateTrail fails with InsufficientS3BucketPolicyException ("This
    exception is thrown when the policy on the S3 bucket is not sufficient")
    unless the bucket policy lets cloudtrail.amazonaws.com call s3:GetBucketAcl on
    the bucket and s3:PutObject on AWSLogs/<account>/* (with the
    bucket-owner-full-control ACL and, when given, aws:SourceArn = the trail
    ARN). With a sufficient policy the trail is created; GetTrailStatus and
    ListTags work; a second trail of the same name fails with
    TrailAlreadyExistsException.
    https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
    https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_GetTrailStatus.html
    https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_ListTags.html
    """
    s3, ct = aws("s3"), aws("cloudtrail")
    trail_arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/lab-trail"
    _trail_bucket(s3, "no-policy-bucket", None)
    _trail_bucket(s3, "other-trail-bucket", f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/another")
    _trail_bucket(s3, "good-bucket", trail_arn)
    for bucket in ("no-policy-bucket", "other-trail-bucket"):
        with pytest.raises(ClientError) as err:
            ct.create_trail(Name="lab-trail", S3BucketName=bucket)
        assert err.value.response["Error"]["Code"] == "InsufficientS3BucketPolicyException"
    assert ct.describe_trails()["trailList"] == []

    created = ct.create_trail(
        Name="lab-trail", S3BucketName="good-bucket", TagsList=[{"Key": "irlab:lab", "Value": "t1"}]
    )
    assert created["TrailARN"] == trail_arn
    ct.start_logging(Name="lab-trail")
    assert ct.get_trail_status(Name="lab-trail")["IsLogging"] is True
    tags = ct.list_tags(ResourceIdList=[trail_arn])["ResourceTagList"][0]["TagsList"]
    assert tags == [{"Key": "irlab:lab", "Value": "t1"}]
    with pytest.raises(ClientError) as err:
        ct.create_trail(Name="lab-trail", S3BucketName="good-bucket")
    assert err.value.response["Error"]["Code"] == "TrailAlreadyExistsException"
