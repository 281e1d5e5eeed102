"""Nested stacks (AWS::CloudFormation::Stack) as CloudFormation runs them
(patches/_cfn_nested.py): names, ParentId/RootId, tags, parameters and outputs,
failure and rollback, TemplateURL in another account, update in place, delete."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, create_stack, physical_ids, resource_events, stack_events, unique

# a security group in a VPC given as a parameter; its id is an output
GROUP_TEMPLATE = """
Parameters:
  VpcId: {Type: String}
  Purpose: {Type: String, Default: app}
Resources:
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: !Sub "nested ${Purpose}"
      VpcId: !Ref VpcId
Outputs:
  GroupId:
    Value: !Ref Group
"""

# records the group id it is given in an SSM parameter
RECORD_TEMPLATE = """
Parameters:
  GroupId: {Type: String}
Resources:
  Record:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/irlab-test/${AWS::StackName}/group"
      Type: String
      Value: !Ref GroupId
Outputs:
  RecordName:
    Value: !Ref Record
"""

# creates a parameter, then fails on a resource type the stand-in does not implement
FAILING_TEMPLATE = """
Resources:
  Kept:
    Type: AWS::SSM::Parameter
    Properties: {Name: !Sub "/irlab-test/${AWS::StackName}/kept", Type: String, Value: before-the-failure}
  Bad:
    Type: AWS::Irlab::DoesNotExist
    DependsOn: Kept
"""


def _url(bucket: str, key: str) -> str:
    return f"https://{bucket}.s3.{REGION}.amazonaws.com/{key}"


def _upload(s3: Any, bucket: str, templates: dict[str, str]) -> None:
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    for key, body in templates.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


def _wrapper(bucket: str, extra_outputs: bool = True) -> str:
    """Two nested stacks, the second fed the first's output (!GetAtt Child.Outputs.Name)."""
    return f"""
Parameters:
  VpcId: {{Type: String}}
  Part: {{Type: String, Default: detection}}
Resources:
  Groups:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: {_url(bucket, "group.yaml")}
      Parameters:
        VpcId: !Ref VpcId
      TimeoutInMinutes: 30
      NotificationARNs: []
      Tags:
        - {{Key: "irlab:part", Value: shared}}
  Recorder:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: {_url(bucket, "record.yaml")}
      Parameters:
        GroupId: !GetAtt Groups.Outputs.GroupId
      Tags:
        - {{Key: "irlab:part", Value: !Ref Part}}
Outputs:
  GroupId:
    Value: !GetAtt Groups.Outputs.GroupId
  RecordName:
    Value: !GetAtt [Recorder, Outputs.RecordName]
  RecorderStack:
    Value: !Ref Recorder
"""


def _vpc(ec2: Any) -> str:
    return ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]


def _stack(cf: Any, name_or_id: str) -> dict[str, Any]:
    return cf.describe_stacks(StackName=name_or_id)["Stacks"][0]


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def _in_account(endpoint: str, account: str, service: str) -> Any:
    client = boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    client.meta.events.register("before-send.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
    return client


def test_nested_stack_is_named_after_its_parent_and_knows_its_parent_and_root(aws):
    """A nested stack is a stack of the parent's account: DescribeStacks and
    ListStacks show it, named <parent>-<LogicalId>-<random suffix> (so two
    parents from one wrapper template coexist), with ParentId the direct parent's
    stack id and RootId the top-level stack's ("For the first level of nested
    stacks, the root stack is also the parent stack"). Ref of the resource is the
    nested stack's ARN, its PhysicalResourceId the same.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html
    https://docs.aws.amazon.com/parallelcluster/latest/ug/troubleshooting-v3.html (the name form in an event)
    """
    cf, s3 = aws("cloudformation"), aws("s3")
    bucket = unique("nested-templates")
    middle = f"""
Parameters:
  VpcId: {{Type: String}}
Resources:
  Inner:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: {_url(bucket, "group.yaml")}
      Parameters: {{VpcId: !Ref VpcId, Purpose: inner}}
Outputs:
  InnerStack: {{Value: !Ref Inner}}
"""
    _upload(s3, bucket, {"group.yaml": GROUP_TEMPLATE, "record.yaml": RECORD_TEMPLATE, "middle.yaml": middle})
    vpc = _vpc(aws("ec2"))
    wrapper = _wrapper(bucket)
    first = create_stack(cf, "lab-a", wrapper, {"VpcId": vpc})
    second = create_stack(cf, "lab-b", wrapper, {"VpcId": vpc})
    assert first["StackStatus"] == second["StackStatus"] == "CREATE_COMPLETE"
    assert "ParentId" not in first and "RootId" not in first
    for parent in (first, second):
        ids = physical_ids(cf, parent["StackName"])
        for logical_id in ("Groups", "Recorder"):
            nested = _stack(cf, ids[logical_id])
            assert nested["StackId"] == ids[logical_id]
            assert re.fullmatch(rf"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{nested['StackName']}/[0-9a-f-]{{36}}", ids[logical_id])
            assert re.fullmatch(rf"{parent['StackName']}-{logical_id}-[A-Z0-9]{{12}}", nested["StackName"])
            assert nested["ParentId"] == nested["RootId"] == parent["StackId"]
            assert nested["StackStatus"] == "CREATE_COMPLETE"
        assert _outputs(_stack(cf, parent["StackName"]))["RecorderStack"] == ids["Recorder"]
    summaries = {s["StackName"]: s for s in cf.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]}
    assert len(summaries) == 6
    nested_summary = next(s for n, s in summaries.items() if n.startswith("lab-a-Groups-"))
    assert nested_summary["ParentId"] == nested_summary["RootId"] == first["StackId"]
    # a second level: ParentId is the middle stack, RootId the top one
    top = create_stack(
        cf, "lab-top",
        f"""
Parameters:
  VpcId: {{Type: String}}
Resources:
  Middle:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: {_url(bucket, "middle.yaml")}
      Parameters: {{VpcId: !Ref VpcId}}
""",
        {"VpcId": vpc},
    )
    middle_id = physical_ids(cf, "lab-top")["Middle"]
    inner = _stack(cf, _outputs(_stack(cf, middle_id))["InnerStack"])
    assert inner["ParentId"] == middle_id and inner["RootId"] == top["StackId"]
    assert inner["StackName"].startswith(_stack(cf, middle_id)["StackName"] + "-Inner-")


def test_nested_stack_carries_the_parents_tags_and_its_own(aws):
    """The parent's stack-level tags propagate to its nested stacks, which add
    the Tags of their AWS::CloudFormation::Stack resource ("Key-value pairs to
    associate with this stack. CloudFormation also propagates these tags to the
    resources created in the stack"): a lab finds each part's stack by its tags.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-console-add-tags.html
    """
    cf, s3, ec2 = aws("cloudformation"), aws("s3"), aws("ec2")
    bucket = unique("nested-templates")
    _upload(s3, bucket, {"group.yaml": GROUP_TEMPLATE, "record.yaml": RECORD_TEMPLATE})
    vpc = _vpc(ec2)
    create_stack(
        cf, "lab-tags", _wrapper(bucket), {"VpcId": vpc},
        Tags=[{"Key": "irlab:lab", "Value": "alpha"}, {"Key": "owner", "Value": "class-7"}],
    )
    by_part = {}
    for stack in cf.describe_stacks()["Stacks"]:
        tags = {t["Key"]: t["Value"] for t in stack.get("Tags") or []}
        if tags.get("irlab:lab") == "alpha" and "irlab:part" in tags:
            by_part[tags["irlab:part"]] = (stack, tags)
    assert set(by_part) == {"shared", "detection"}
    shared, tags = by_part["shared"]
    assert tags == {"irlab:lab": "alpha", "owner": "class-7", "irlab:part": "shared"}
    assert shared["StackName"].startswith("lab-tags-Groups-")
    # the nested stack's own resources get its tags
    group_id = _outputs(shared)["GroupId"]
    group_tags = {t["Key"]: t["Value"] for t in ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["Tags"]}
    assert group_tags["irlab:part"] == "shared" and group_tags["irlab:lab"] == "alpha"
    assert group_tags["aws:cloudformation:stack-name"] == shared["StackName"]
    # new stack-level tags of the parent reach the nested stack (which is updated with them)
    cf.update_stack(
        StackName="lab-tags", TemplateBody=_wrapper(bucket),
        Parameters=[{"ParameterKey": "VpcId", "ParameterValue": vpc}],
        Tags=[{"Key": "irlab:lab", "Value": "beta"}],
    )
    assert _stack(cf, "lab-tags")["StackStatus"] == "UPDATE_COMPLETE"
    shared = _stack(cf, shared["StackId"])
    assert {t["Key"]: t["Value"] for t in shared["Tags"]} == {"irlab:lab": "beta", "irlab:part": "shared"}
    assert shared["StackStatus"] == "UPDATE_COMPLETE"


def test_getatt_outputs_passes_a_group_id_into_the_second_nested_stack(aws):
    """Fn::GetAtt [Child, Outputs.Name] (also the short form
    !GetAtt Child.Outputs.Name) returns the nested stack's output and makes the
    consumer depend on it: the second nested stack is created after the first
    completes, with the security group id as its parameter; the parent waits for
    both. Parameters are the values resolved in the parent; TimeoutInMinutes and
    NotificationARNs are accepted.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getatt.html
    """
    cf, s3, ec2, ssm = aws("cloudformation"), aws("s3"), aws("ec2"), aws("ssm")
    bucket = unique("nested-templates")
    _upload(s3, bucket, {"group.yaml": GROUP_TEMPLATE, "record.yaml": RECORD_TEMPLATE})
    vpc = _vpc(ec2)
    parent = create_stack(cf, "lab-pass", _wrapper(bucket), {"VpcId": vpc})
    assert parent["StackStatus"] == "CREATE_COMPLETE"
    outputs = _outputs(parent)
    group = ec2.describe_security_groups(GroupIds=[outputs["GroupId"]])["SecurityGroups"][0]
    assert group["VpcId"] == vpc
    assert ssm.get_parameter(Name=outputs["RecordName"])["Parameter"]["Value"] == outputs["GroupId"]
    recorder = _stack(cf, physical_ids(cf, "lab-pass")["Recorder"])
    assert {p["ParameterKey"]: p["ParameterValue"] for p in recorder["Parameters"]} == {"GroupId": outputs["GroupId"]}
    groups = _stack(cf, physical_ids(cf, "lab-pass")["Groups"])
    assert groups.get("TimeoutInMinutes") == 30
    oldest_first = list(reversed(stack_events(cf, "lab-pass")))
    order = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in oldest_first]
    assert order.index(("Groups", "CREATE_COMPLETE")) < order.index(("Recorder", "CREATE_IN_PROGRESS"))
    assert order[-1] == ("lab-pass", "CREATE_COMPLETE")


def test_a_failing_nested_stack_fails_the_parent_which_rolls_back_leaving_nothing(aws):
    """A nested stack that fails to create fails its resource in the parent with
    "Embedded stack ARN was not successfully created: The following resource(s)
    failed to create: [Bad]."; the parent then rolls back, deleting the nested
    stack and what it had created (ROLLBACK_COMPLETE), and nothing is left.
    https://docs.aws.amazon.com/parallelcluster/latest/ug/troubleshooting-v3.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html
    """
    cf, s3, ssm = aws("cloudformation"), aws("s3"), aws("ssm")
    bucket = unique("nested-templates")
    _upload(s3, bucket, {"failing.yaml": FAILING_TEMPLATE})
    parent = create_stack(
        cf, "lab-fail",
        f"""
Resources:
  Child:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: {_url(bucket, "failing.yaml")}
""",
    )
    assert parent["StackStatus"] == "ROLLBACK_COMPLETE"
    events = stack_events(cf, "lab-fail")
    failed = next(e for e in events if e["LogicalResourceId"] == "Child" and e["ResourceStatus"] == "CREATE_FAILED")
    child_id = failed["PhysicalResourceId"]
    assert failed["ResourceStatusReason"] == (
        f"Embedded stack {child_id} was not successfully created: The following resource(s) failed to create: [Bad]."
    )
    assert resource_events(cf, "lab-fail", "Child") == [
        "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_FAILED", "DELETE_IN_PROGRESS", "DELETE_COMPLETE",
    ]
    child = _stack(cf, child_id)
    assert child["StackStatus"] == "DELETE_COMPLETE"
    child_statuses = [e["ResourceStatus"] for e in reversed(stack_events(cf, child_id)) if e["LogicalResourceId"] == child["StackName"]]
    assert child_statuses == ["CREATE_IN_PROGRESS", "CREATE_FAILED", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    assert ssm.describe_parameters()["Parameters"] == []
    live = [s for s in cf.list_stacks()["StackSummaries"] if s["StackStatus"] not in ("DELETE_COMPLETE",)]
    assert [s["StackName"] for s in live] == ["lab-fail"]
    cf.delete_stack(StackName="lab-fail")
    assert [s for s in cf.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"] == []


def test_a_nested_stack_that_fails_without_rollback_stays_failed(aws):
    """With DisableRollback the parent stays CREATE_FAILED and so does its nested
    stack (a nested stack does not roll back on its own); deleting the parent
    then deletes it.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html
    """
    cf, s3 = aws("cloudformation"), aws("s3")
    bucket = unique("nested-templates")
    _upload(s3, bucket, {"failing.yaml": FAILING_TEMPLATE})
    body = f"""
Resources:
  Child:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: {_url(bucket, "failing.yaml")}
"""
    parent = create_stack(cf, "lab-keep", body, DisableRollback=True)
    assert parent["StackStatus"] == "CREATE_FAILED"
    child_id = physical_ids(cf, "lab-keep")["Child"]
    assert _stack(cf, child_id)["StackStatus"] == "CREATE_FAILED"
    cf.delete_stack(StackName="lab-keep")
    assert _stack(cf, child_id)["StackStatus"] == "DELETE_COMPLETE"
    assert _stack(cf, parent["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_template_url_in_another_account_needs_the_buckets_permission(aws, emulator):
    """CloudFormation reads TemplateURL with the stack's account's permissions, in
    whichever account owns the bucket: another account's bucket must allow
    s3:GetObject to the reader through its bucket policy - naming the account,
    or any principal of the organization (aws:PrincipalOrgID). Without such a
    grant the nested stack resource fails with "S3 error: Access Denied For more
    information check http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
    and no nested stack is created.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html
    https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.pipelines-readme.html (the S3 error of a nested stack)
    """
    orgs, s3 = aws("organizations"), aws("s3")
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    member = orgs.create_account(Email="attendee@example.com", AccountName="attendee")["CreateAccountStatus"]["AccountId"]
    outsider = "111122223333"
    bucket = unique("class-templates")
    _upload(s3, bucket, {"group.yaml": GROUP_TEMPLATE})
    statement = {
        "Sid": "OrganizationReads", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    body = f"""
Parameters:
  VpcId: {{Type: String}}
Resources:
  Part:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://s3.{REGION}.amazonaws.com/{bucket}/group.yaml
      Parameters: {{VpcId: !Ref VpcId}}
"""

    def deploy(account: str, name: str) -> dict[str, Any]:
        cf = _in_account(emulator.endpoint, account, "cloudformation")
        vpc = _vpc(_in_account(emulator.endpoint, account, "ec2"))
        return create_stack(cf, name, body, {"VpcId": vpc})

    def part_reason(account: str, name: str) -> str:
        cf = _in_account(emulator.endpoint, account, "cloudformation")
        return next(
            e["ResourceStatusReason"] for e in stack_events(cf, name)
            if e["LogicalResourceId"] == "Part" and e["ResourceStatus"] == "CREATE_FAILED"
        )

    denied = "S3 error: Access Denied For more information check http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
    assert deploy(member, "org-member")["StackStatus"] == "CREATE_COMPLETE"
    nested = _in_account(emulator.endpoint, member, "cloudformation").describe_stacks()["Stacks"]
    assert {s["StackName"].split("-Part-")[0] for s in nested} == {"org-member"} and len(nested) == 2
    assert deploy(outsider, "outsider")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert part_reason(outsider, "outsider") == denied
    assert len(_in_account(emulator.endpoint, outsider, "cloudformation").describe_stacks()["Stacks"]) == 1
    # a grant to the account itself
    account_grant = {**statement, "Sid": "Outsider", "Principal": {"AWS": f"arn:aws:iam::{outsider}:root"}}
    del account_grant["Condition"]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement, account_grant]}))
    assert deploy(outsider, "outsider-granted")["StackStatus"] == "CREATE_COMPLETE"
    # without the policy the organization's member is refused too
    s3.delete_bucket_policy(Bucket=bucket)
    assert deploy(member, "org-member-2")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert part_reason(member, "org-member-2") == denied
    # the bucket's own account needs no policy
    assert create_stack(aws("cloudformation"), "owner", body, {"VpcId": _vpc(aws("ec2"))})["StackStatus"] == "CREATE_COMPLETE"


def test_template_url_forms_and_errors(aws):
    """TemplateURL is an https URL of an S3 object, virtual-hosted or path style,
    with or without the Region ("The location for an Amazon S3 bucket must start
    with https://"). Another URL fails the resource ("TemplateURL must be a
    supported URL."); a missing object the owner may list is "S3 error: The
    specified key does not exist."
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
    """
    cf, s3 = aws("cloudformation"), aws("s3")
    bucket = unique("nested-templates")
    _upload(s3, bucket, {"dir/record.yaml": RECORD_TEMPLATE})
    good = [
        f"https://{bucket}.s3.{REGION}.amazonaws.com/dir/record.yaml",
        f"https://{bucket}.s3.amazonaws.com/dir/record.yaml",
        f"https://{bucket}.s3-{REGION}.amazonaws.com/dir/record.yaml",
        f"https://s3.{REGION}.amazonaws.com/{bucket}/dir/record.yaml",
        f"https://s3.amazonaws.com/{bucket}/dir/record.yaml",
    ]
    bad = {
        f"http://{bucket}.s3.{REGION}.amazonaws.com/dir/record.yaml": "TemplateURL must be a supported URL.",
        f"https://example.com/{bucket}/dir/record.yaml": "TemplateURL must be a supported URL.",
        f"https://{bucket}.s3.{REGION}.amazonaws.com/dir/missing.yaml": "S3 error: The specified key does not exist.",
    }

    def body(url: str) -> str:
        return f"""
Resources:
  Part:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: {url}
      Parameters: {{GroupId: sg-12345678}}
"""

    for i, url in enumerate(good):
        assert create_stack(cf, f"url-good-{i}", body(url))["StackStatus"] == "CREATE_COMPLETE", url
    for i, (url, reason) in enumerate(bad.items()):
        name = f"url-bad-{i}"
        assert create_stack(cf, name, body(url))["StackStatus"] == "ROLLBACK_COMPLETE", url
        failed = next(e for e in stack_events(cf, name) if e["LogicalResourceId"] == "Part" and e["ResourceStatus"] == "CREATE_FAILED")
        assert failed["ResourceStatusReason"] == reason


def test_updating_the_parent_updates_the_nested_stack_in_place(aws):
    """Updating the parent updates a nested stack whose TemplateURL, Parameters
    or template changed - in place, keeping its stack id ("An update never causes
    a nested stack to be replaced"); an unchanged nested stack is not updated.
    The template behind an unchanged TemplateURL is read again.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html
    """
    cf, s3, ec2 = aws("cloudformation"), aws("s3"), aws("ec2")
    bucket = unique("nested-templates")
    _upload(s3, bucket, {"group.yaml": GROUP_TEMPLATE, "record.yaml": RECORD_TEMPLATE})
    vpc = _vpc(ec2)
    create_stack(cf, "lab-up", _wrapper(bucket), {"VpcId": vpc})
    before = physical_ids(cf, "lab-up")
    recorder_name = _stack(cf, before["Recorder"])["StackName"]

    def update(body: str, **params: str) -> dict[str, Any]:
        cf.update_stack(
            StackName="lab-up", TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in {"VpcId": vpc, **params}.items()],
        )
        return _stack(cf, "lab-up")

    # a parameter of the parent that reaches only the Recorder's tags
    assert update(_wrapper(bucket), Part="victim")["StackStatus"] == "UPDATE_COMPLETE"
    assert physical_ids(cf, "lab-up") == before
    recorder = _stack(cf, before["Recorder"])
    assert recorder["StackStatus"] == "UPDATE_COMPLETE" and recorder["StackName"] == recorder_name
    assert {t["Key"]: t["Value"] for t in recorder["Tags"]}["irlab:part"] == "victim"
    assert _stack(cf, before["Groups"])["StackStatus"] == "CREATE_COMPLETE"  # unchanged, not updated
    # a new template at a new TemplateURL, with a new parameter value
    _upload(s3, bucket, {"group-v2.yaml": GROUP_TEMPLATE.replace("nested ${Purpose}", "v2 ${Purpose}")})
    v2 = _wrapper(bucket).replace("group.yaml", "group-v2.yaml").replace("VpcId: !Ref VpcId\n      TimeoutInMinutes", "VpcId: !Ref VpcId\n        Purpose: db\n      TimeoutInMinutes")
    assert update(v2)["StackStatus"] == "UPDATE_COMPLETE"
    after = physical_ids(cf, "lab-up")
    assert after == before
    groups = _stack(cf, before["Groups"])
    assert groups["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in groups["Parameters"]}["Purpose"] == "db"
    assert resource_events(cf, "lab-up", "Groups")[-2:] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    # the same TemplateURL with new content: read again on the parent's next update
    _upload(s3, bucket, {"record.yaml": RECORD_TEMPLATE.replace("      Type: String\n", "      Type: String\n      Description: v3\n")})
    assert update(v2, Part="playbook")["StackStatus"] == "UPDATE_COMPLETE"
    assert "Description: v3" in cf.get_template(StackName=before["Recorder"])["TemplateBody"]
    assert physical_ids(cf, "lab-up") == before


def test_deleting_the_parent_deletes_nested_stacks_in_reverse_dependency_order(aws):
    """Deleting the parent deletes its nested stacks and their resources, the
    consumer of an output before the stack that gives it.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-console-delete-stack.html
    """
    cf, s3, ec2 = aws("cloudformation"), aws("s3"), aws("ec2")
    bucket = unique("nested-templates")
    _upload(s3, bucket, {"group.yaml": GROUP_TEMPLATE, "record.yaml": RECORD_TEMPLATE})
    vpc = _vpc(ec2)
    parent = create_stack(cf, "lab-del", _wrapper(bucket), {"VpcId": vpc})
    ids = physical_ids(cf, "lab-del")
    group_id = _outputs(parent)["GroupId"]
    cf.delete_stack(StackName="lab-del")
    assert _stack(cf, parent["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    for nested_id in ids.values():
        assert _stack(cf, nested_id)["StackStatus"] == "DELETE_COMPLETE"
    oldest_first = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in reversed(stack_events(cf, parent["StackId"]))]
    assert oldest_first.index(("Recorder", "DELETE_COMPLETE")) < oldest_first.index(("Groups", "DELETE_IN_PROGRESS"))
    with pytest.raises(ClientError):
        ec2.describe_security_groups(GroupIds=[group_id])
    assert aws("ssm").describe_parameters()["Parameters"] == []


def test_a_nested_stack_can_be_deleted_directly_unless_its_root_is_protected(aws):
    """DeleteStack may name a nested stack (its root then deletes nothing more
    for it), except while the root stack has termination protection: "If you
    attempt to directly delete a nested stack belonging to a stack that has
    termination protection enabled, the operation fails and the nested stack
    remains unchanged" (ValidationError "Stack [NAME] cannot be deleted while
    TerminationProtection is enabled").
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-protect-stacks.html
    """
    cf, s3, ec2 = aws("cloudformation"), aws("s3"), aws("ec2")
    bucket = unique("nested-templates")
    _upload(s3, bucket, {"group.yaml": GROUP_TEMPLATE, "record.yaml": RECORD_TEMPLATE})
    vpc = _vpc(ec2)
    create_stack(cf, "lab-guarded", _wrapper(bucket), {"VpcId": vpc}, EnableTerminationProtection=True)
    guarded = physical_ids(cf, "lab-guarded")["Recorder"]
    name = _stack(cf, guarded)["StackName"]
    with pytest.raises(ClientError) as e:
        cf.delete_stack(StackName=name)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert e.value.response["Error"]["Message"] == f"Stack [{name}] cannot be deleted while TerminationProtection is enabled"
    assert _stack(cf, guarded)["StackStatus"] == "CREATE_COMPLETE"

    create_stack(cf, "lab-open", _wrapper(bucket), {"VpcId": vpc})
    recorder = physical_ids(cf, "lab-open")["Recorder"]
    cf.delete_stack(StackName=recorder)
    assert _stack(cf, recorder)["StackStatus"] == "DELETE_COMPLETE"
    cf.delete_stack(StackName="lab-open")
    assert _stack(cf, physical_ids(cf, _stack(cf, recorder)["ParentId"])["Groups"])["StackStatus"] == "DELETE_COMPLETE"


def test_generated_role_names_of_a_long_nested_stack_fit_iam_limit(aws):
    """A nested stack's resources are named from its own generated name, which is long; where a
    service caps a name (IAM role names: 64 characters) CloudFormation trims the stack-name part
    so the generated name fits, keeping the logical id and the random suffix.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"""
    cf, iam = aws("cloudformation"), aws("iam")
    body = (
        "Resources:\n  InstanceRole:\n    Type: AWS::IAM::Role\n    Properties:\n"
        "      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, "
        "Principal: {Service: ec2.amazonaws.com}, Action: 'sts:AssumeRole'}]}\n"
    )
    name = "StackSet-irlab-org-class-d6e2bfbb-ea32-42f2-bee5-19e31bcb8725-Victim-Z2KNUHDEN3G2"
    cf.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    role = cf.describe_stack_resource(StackName=name, LogicalResourceId="InstanceRole")["StackResourceDetail"]
    role_name = role["PhysicalResourceId"]
    assert len(role_name) <= 64, role_name
    assert role_name.startswith("StackSet-irlab-org-class-") and "-InstanceRole-" in role_name, role_name
    assert iam.get_role(RoleName=role_name)["Role"]["RoleName"] == role_name
    cf.delete_stack(StackName=name)
