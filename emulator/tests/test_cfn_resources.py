"""Resource types moto skipped or got wrong (extensions 1, 6, tag propagation)."""

from __future__ import annotations

import json

from conftest import ACCOUNT_ID, create_stack, physical_ids, resource_events, template, unique


def _outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_cloudtrail_trail_resource(aws):
    """AWS::CloudTrail::Trail creates the trail with its S3BucketName,
    IsMultiRegionTrail, EnableLogFileValidation, IncludeGlobalServiceEvents and
    Tags; ``IsLogging: true`` "Whether the CloudTrail trail is currently logging
    Amazon API calls" starts logging. ``Ref`` returns the trail name,
    ``Fn::GetAtt Arn`` the trail ARN. Deleting the stack deletes the trail.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudtrail-trail.html
    """
    cf, ct = aws("cloudformation"), aws("cloudtrail")
    name = unique("alerts")
    trail_name = unique("trail")
    stack = create_stack(cf, name, template("alerts.yaml"), {"TrailName": trail_name})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    out = _outputs(stack)
    arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/{trail_name}"
    assert out["TrailName"] == trail_name and out["TrailArn"] == arn
    trail = ct.describe_trails(trailNameList=[trail_name])["trailList"][0]
    assert trail["S3BucketName"] == out["BucketName"]
    assert trail["IsMultiRegionTrail"] is True
    assert trail["LogFileValidationEnabled"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert ct.get_trail_status(Name=trail_name)["IsLogging"] is True
    tags = {t["Key"]: t["Value"] for t in ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"]}
    assert tags["purpose"] == "test"

    # update in place: stop logging
    body = template("alerts.yaml").replace("IsLogging: true", "IsLogging: false")
    cf.update_stack(
        StackName=name,
        TemplateBody=body,
        Parameters=[{"ParameterKey": "TrailName", "UsePreviousValue": True}],
    )
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert ct.get_trail_status(Name=trail_name)["IsLogging"] is False
    assert resource_events(cf, name, "Trail")[-2:] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]

    cf.delete_stack(StackName=name)
    assert ct.describe_trails()["trailList"] == []


def test_s3_bucket_policy_resource(aws):
    """AWS::S3::BucketPolicy "Applies an Amazon S3 bucket policy to an Amazon S3
    bucket"; deleting the resource removes the policy.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucketpolicy.html
    """
    cf, s3 = aws("cloudformation"), aws("s3")
    name = unique("alerts")
    create_stack(cf, name, template("alerts.yaml"), {"TrailName": unique("trail")})
    bucket = physical_ids(cf, name)["Bucket"]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert [s.get("Sid") for s in policy["Statement"]][0] == "DenyInsecureTransport"
    assert policy["Statement"][1]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    # a template without the policy (and what depends on it): the update deletes the policy
    cf.update_stack(
        StackName=name,
        TemplateBody="Parameters:\n  TrailName: {Type: String}\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      VersioningConfiguration: {Status: Enabled}\n",
        Parameters=[{"ParameterKey": "TrailName", "UsePreviousValue": True}],
    )
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert resource_events(cf, name, "BucketPolicy")[-1] == "DELETE_COMPLETE"
    try:
        s3.get_bucket_policy(Bucket=bucket)
        raise AssertionError("policy still present")
    except s3.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "NoSuchBucketPolicy"


def test_sns_subscription_resource(aws):
    """AWS::SNS::Subscription subscribes ``Endpoint`` with ``Protocol`` to
    ``TopicArn`` and applies ``RawMessageDelivery``; ``Ref`` returns the
    subscription ARN; deleting the resource unsubscribes.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sns-subscription.html
    """
    cf, sns, sqs = aws("cloudformation"), aws("sns"), aws("sqs")
    name = unique("alerts")
    stack = create_stack(cf, name, template("alerts.yaml"), {"TrailName": unique("trail")})
    out = _outputs(stack)
    subs = sns.list_subscriptions_by_topic(TopicArn=out["TopicArn"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"], s["SubscriptionArn"]) for s in subs] == [
        ("sqs", out["QueueArn"], out["SubscriptionArn"])
    ]
    attributes = sns.get_subscription_attributes(SubscriptionArn=out["SubscriptionArn"])["Attributes"]
    assert attributes["RawMessageDelivery"] == "true"
    # delivery works end to end
    sns.publish(TopicArn=out["TopicArn"], Message="hello")
    queue_url = sqs.get_queue_url(QueueName=out["QueueArn"].rsplit(":", 1)[1])["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", [])
    assert [m["Body"] for m in messages] == ["hello"]
    cf.delete_stack(StackName=name)
    assert sns.list_subscriptions()["Subscriptions"] == []


def test_sqs_queue_policy_resource(aws):
    """AWS::SQS::QueuePolicy "applies a policy to Amazon SQS queues" - the
    ``Policy`` attribute of each queue listed in ``Queues`` (queue URLs);
    deleting the resource removes it. SetQueueAttributes of another attribute
    leaves the policy as it is.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queuepolicy.html
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
    """
    cf, sqs = aws("cloudformation"), aws("sqs")
    name = unique("alerts")
    stack = create_stack(cf, name, template("alerts.yaml"), {"TrailName": unique("trail")})
    out = _outputs(stack)
    queue_url = sqs.get_queue_url(QueueName=out["QueueArn"].rsplit(":", 1)[1])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    policy = json.loads(attributes["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}
    assert policy["Statement"][0]["Condition"] == {"ArnEquals": {"aws:SourceArn": out["TopicArn"]}}
    assert attributes["SqsManagedSseEnabled"] == "true"
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "45"})
    assert "Policy" in sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    tags = sqs.list_queue_tags(QueueUrl=queue_url)["Tags"]
    assert tags["aws:cloudformation:logical-id"] == "Queue"


def test_sns_topic_policy_resource(aws):
    """AWS::SNS::TopicPolicy "associates Amazon SNS topics with a policy" - the
    topic's ``Policy`` attribute.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sns-topicpolicy.html
    """
    cf, sns = aws("cloudformation"), aws("sns")
    name = unique("alerts")
    out = _outputs(create_stack(cf, name, template("alerts.yaml"), {"TrailName": unique("trail")}))
    attributes = sns.get_topic_attributes(TopicArn=out["TopicArn"])["Attributes"]
    policy = json.loads(attributes["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert attributes["DisplayName"] == "test alerts"


def test_iam_role_managed_policy_arns(aws):
    """AWS::IAM::Role ``ManagedPolicyArns``: "A list of Amazon Resource Names
    (ARNs) of the IAM managed policies that you want to attach to the role" -
    including AWS managed policies such as AmazonSSMManagedInstanceCore.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-role.html#cfn-iam-role-managedpolicyarns
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html
    """
    cf, iam = aws("cloudformation"), aws("iam")
    name = unique("net")
    create_stack(cf, name, template("network.yaml"))
    role = physical_ids(cf, name)["Role"]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert attached == [
        {
            "PolicyName": "AmazonSSMManagedInstanceCore",
            "PolicyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        }
    ]
    policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")["Policy"]
    assert policy["AttachmentCount"] == 1


def test_stack_tags_propagate_to_resources(aws):
    """Stack tags given to CreateStack: "CloudFormation also propagates these tags
    to the resources created in the stack", together with the
    aws:cloudformation:stack-name, stack-id and logical-id tags (the propagation
    varies by resource type; EBS volumes from block device mappings get none).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html (Tags)
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-resource-tags.html
    """
    cf = aws("cloudformation")
    ec2, s3, sns, sqs, iam, ct = (aws(s) for s in ("ec2", "s3", "sns", "sqs", "iam", "cloudtrail"))
    stack_tags = [{"Key": "irlab:lab", "Value": "t1"}]
    net = unique("net")
    create_stack(cf, net, template("network.yaml"), Tags=stack_tags)
    alerts = unique("alerts")
    stack = create_stack(cf, alerts, template("alerts.yaml"), {"TrailName": unique("trail")}, Tags=stack_tags)
    net_ids, alert_ids, out = physical_ids(cf, net), physical_ids(cf, alerts), _outputs(stack)

    def as_dict(tags: list[dict[str, str]]) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in tags}

    vpc = as_dict(ec2.describe_vpcs(VpcIds=[net_ids["Vpc"]])["Vpcs"][0]["Tags"])
    assert vpc["irlab:lab"] == "t1" and vpc["Name"] == "test-vpc"
    assert vpc["aws:cloudformation:logical-id"] == "Vpc" and vpc["aws:cloudformation:stack-name"] == net
    instance = ec2.describe_instances(InstanceIds=[net_ids["Instance"]])["Reservations"][0]["Instances"][0]
    assert as_dict(instance["Tags"])["irlab:lab"] == "t1"
    group = ec2.describe_security_groups(GroupIds=[net_ids["QuarantineSg"]])["SecurityGroups"][0]
    assert as_dict(group["Tags"])["irlab:lab"] == "t1"
    bucket = as_dict(s3.get_bucket_tagging(Bucket=alert_ids["Bucket"])["TagSet"])
    assert bucket["irlab:lab"] == "t1" and bucket["aws:cloudformation:logical-id"] == "Bucket"
    assert as_dict(sns.list_tags_for_resource(ResourceArn=out["TopicArn"])["Tags"])["irlab:lab"] == "t1"
    queue_url = sqs.get_queue_url(QueueName=out["QueueArn"].rsplit(":", 1)[1])["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=queue_url)["Tags"]["irlab:lab"] == "t1"
    role_tags = as_dict(iam.list_role_tags(RoleName=net_ids["Role"])["Tags"])
    assert role_tags == {"irlab:lab": "t1"}
    trail_tags = as_dict(ct.list_tags(ResourceIdList=[out["TrailArn"]])["ResourceTagList"][0]["TagsList"])
    assert trail_tags["irlab:lab"] == "t1" and trail_tags["purpose"] == "test"
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "tag:irlab:lab", "Values": ["t1"]}], OwnerIds=["self"])
    assert snapshots["Snapshots"] == []
