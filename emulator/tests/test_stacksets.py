"""Service-managed CloudFormation StackSets over an AWS Organizations OU tree,
and Organizations trusted access (patches/stacksets.py)."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, eventually, unique

TEMPLATE = """
Parameters:
  Greeting: {Type: String, Default: hello}
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties: {Name: !Sub "/irlab/${AWS::StackName}/greeting", Type: String, Value: !Ref Greeting}
  Topic:
    Type: AWS::SNS::Topic
Outputs:
  ParamName: {Value: !Ref Param}
"""

VPC_TEMPLATE = """
Resources:
  Net:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.40.0.0/16}
"""

INSTANCE_TEMPLATE = """
Parameters:
  ImageId: {Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", Default: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64}
Resources:
  Box:
    Type: AWS::EC2::Instance
    Properties: {ImageId: !Ref ImageId, InstanceType: t3.micro}
"""

AUTO = {"Enabled": True, "RetainStacksOnAccountRemoval": False}


def _in_account(endpoint: str, account: str, service: str, region: str = REGION) -> Any:
    """A client acting in another account of the stand-in (moto's account header)."""
    client = boto3.client(
        service, endpoint_url=endpoint, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    client.meta.events.register("before-send.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
    return client


def _set_quota(endpoint: str, account: str, service: str, code: str, value: float) -> None:
    body = json.dumps({"account": account, "region": REGION, "service_code": service, "quota_code": code, "value": value})
    request = urllib.request.Request(
        f"{endpoint}/moto-api/irlab/service-quotas", data=body.encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _set_service_scale(endpoint: str, value: float) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/irlab/wait-scale",
        data=json.dumps({"serviceScale": value}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@dataclass
class Org:
    """An organization of depth 3: OU > Child > Grandchild, an account at each
    level, one directly under the root (outside the OU) and the management account."""

    root: str
    ou: str
    child: str
    grandchild: str
    in_ou: str
    in_child: str
    in_grandchild: str
    outside: str

    @property
    def members(self) -> list[str]:
        return [self.in_ou, self.in_child, self.in_grandchild]


def _account(orgs: Any, name: str, parent: str, root: str) -> str:
    status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    account = status["AccountId"]
    if parent != root:
        orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=parent)
    return account


def _org(aws: Any, activate: bool = True) -> Org:
    orgs = aws("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou = orgs.create_organizational_unit(ParentId=root, Name="class")["OrganizationalUnit"]["Id"]
    child = orgs.create_organizational_unit(ParentId=ou, Name="group")["OrganizationalUnit"]["Id"]
    grandchild = orgs.create_organizational_unit(ParentId=child, Name="team")["OrganizationalUnit"]["Id"]
    org = Org(
        root=root,
        ou=ou,
        child=child,
        grandchild=grandchild,
        in_ou=_account(orgs, "attendee-a", ou, root),
        in_child=_account(orgs, "attendee-b", child, root),
        in_grandchild=_account(orgs, "attendee-c", grandchild, root),
        outside=_account(orgs, "outsider", root, root),
    )
    if activate:
        aws("cloudformation").activate_organizations_access()
    return org


def _wait_operation(cf: Any, stack_set: str, operation_id: str, timeout: float = 60.0) -> dict[str, Any]:
    def done() -> Any:
        op = cf.describe_stack_set_operation(StackSetName=stack_set, OperationId=operation_id)["StackSetOperation"]
        return op if op["Status"] in ("SUCCEEDED", "FAILED", "STOPPED") else None

    op = eventually(done, timeout=timeout, interval=0.1)
    assert op, f"operation {operation_id} did not finish"
    return op


def _results(cf: Any, stack_set: str, operation_id: str) -> dict[str, dict[str, Any]]:
    rows = cf.list_stack_set_operation_results(StackSetName=stack_set, OperationId=operation_id)["Summaries"]
    return {r["Account"]: r for r in rows}


def _member_stacks(endpoint: str, account: str, stack_set: str) -> list[dict[str, Any]]:
    cf = _in_account(endpoint, account, "cloudformation")
    return [s for s in cf.describe_stacks()["Stacks"] if s["StackName"].startswith(f"StackSet-{stack_set}-")]


def _create_service_managed(cf: Any, name: str, body: str = TEMPLATE, **kwargs: Any) -> None:
    cf.create_stack_set(
        StackSetName=name,
        TemplateBody=body,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment=kwargs.pop("AutoDeployment", AUTO),
        **kwargs,
    )


def test_service_managed_stack_set_deploys_to_every_account_of_the_ou_tree(aws, emulator):
    """CreateStackInstances with DeploymentTargets.OrganizationalUnitIds deploys to
    the accounts of the OU and of all its child OUs, never to the management
    account; each stack instance is a stack in the target account and Region
    (listed by that account's DescribeStacks, with the stack set's parameters,
    overrides, tags and capabilities); the operation runs in the background, its results and
    the instances name the account, the Region and the OU.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackInstances.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceSummary.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationResultSummary.html
    """
    org = _org(aws)
    cf = aws("cloudformation")
    name = unique("lab")
    _create_service_managed(
        cf,
        name,
        Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "from-the-set"}],
        Capabilities=["CAPABILITY_IAM"],
        Tags=[{"Key": "irlab:class", "Value": "c1"}],
        ManagedExecution={"Active": False},
    )
    described = cf.describe_stack_set(StackSetName=name)["StackSet"]
    assert described["PermissionModel"] == "SERVICE_MANAGED"
    assert described["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert described["Capabilities"] == ["CAPABILITY_IAM"]
    assert described["Tags"] == [{"Key": "irlab:class", "Value": "c1"}]

    op_id = cf.create_stack_instances(
        StackSetName=name,
        DeploymentTargets={"OrganizationalUnitIds": [org.ou]},
        Regions=[REGION],
        ParameterOverrides=[{"ParameterKey": "Greeting", "ParameterValue": "overridden"}],
        OperationPreferences={"MaxConcurrentCount": 3, "FailureToleranceCount": 2},
    )["OperationId"]
    op = _wait_operation(cf, name, op_id)
    assert op["Status"] == "SUCCEEDED" and op["Action"] == "CREATE"
    assert op["EndTimestamp"] >= op["CreationTimestamp"]

    results = _results(cf, name, op_id)
    assert set(results) == set(org.members)
    assert {r["Status"] for r in results.values()} == {"SUCCEEDED"}
    assert results[org.in_grandchild]["OrganizationalUnitId"] == org.ou

    for account in org.members:
        stacks = _member_stacks(emulator.endpoint, account, name)
        assert len(stacks) == 1, account
        stack = stacks[0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert {"Key": "irlab:class", "Value": "c1"} in stack["Tags"]
        assert stack["Capabilities"] == ["CAPABILITY_IAM"]
        assert {"ParameterKey": "Greeting", "ParameterValue": "overridden"} in stack["Parameters"]
        ssm = _in_account(emulator.endpoint, account, "ssm")
        param = stack["Outputs"][0]["OutputValue"]
        assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == "overridden"
        instance = cf.describe_stack_instance(StackSetName=name, StackInstanceAccount=account, StackInstanceRegion=REGION)[
            "StackInstance"
        ]
        assert instance["StackId"] == stack["StackId"]
        assert instance["Status"] == "CURRENT"
        assert instance["StackInstanceStatus"]["DetailedStatus"] == "SUCCEEDED"
        assert instance["OrganizationalUnitId"] == org.ou
        assert instance["LastOperationId"] == op_id
    for account in (ACCOUNT_ID, org.outside):
        assert _member_stacks(emulator.endpoint, account, name) == []

    described = cf.describe_stack_set(StackSetName=name)["StackSet"]
    assert described["OrganizationalUnitIds"] == [org.ou]
    assert described["Regions"] == [REGION]
    assert len(cf.list_stack_instances(StackSetName=name)["Summaries"]) == 3



def test_trusted_access_and_who_may_operate_a_service_managed_stack_set(aws, emulator):
    """Trusted access is DISABLED until the management account activates it
    (ActivateOrganizationsAccess / DeactivateOrganizationsAccess /
    DescribeOrganizationsAccess); a service-managed stack set needs it ("You must
    enable organizations access to operate a service managed stack set"), needs
    AutoDeployment ("Required if the permissions model is SERVICE_MANAGED"), and a
    caller that is the management account or a delegated administrator calling
    with CallAs=DELEGATED_ADMIN ("You must be the management account or delegated
    admin account of an organization before operating a SERVICE_MANAGED stack
    set"); the delegated administrator works on the management account's stack sets.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ActivateOrganizationsAccess.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeOrganizationsAccess.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html
    """
    org = _org(aws, activate=False)
    cf = aws("cloudformation")
    assert cf.describe_organizations_access()["Status"] == "DISABLED"
    with pytest.raises(ClientError) as e:
        _create_service_managed(cf, "early")
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert e.value.response["Error"]["Message"] == "You must enable organizations access to operate a service managed stack set"

    cf.activate_organizations_access()
    assert cf.describe_organizations_access()["Status"] == "ENABLED"
    principals = [s["ServicePrincipal"] for s in aws("organizations").list_aws_service_access_for_organization()["EnabledServicePrincipals"]]
    assert "member.org.stacksets.cloudformation.amazonaws.com" in principals

    with pytest.raises(ClientError) as e:
        cf.create_stack_set(StackSetName="no-auto", TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED")
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "AutoDeployment" in e.value.response["Error"]["Message"]

    member = _in_account(emulator.endpoint, org.in_ou, "cloudformation")
    with pytest.raises(ClientError) as e:
        _create_service_managed(member, "from-member")
    assert e.value.response["Error"]["Message"].startswith("You must be the management account or delegated admin account")
    with pytest.raises(ClientError) as e:
        _create_service_managed(member, "not-registered", CallAs="DELEGATED_ADMIN")
    assert e.value.response["Error"]["Code"] == "ValidationError"

    aws("organizations").register_delegated_administrator(
        AccountId=org.in_ou, ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com"
    )
    _create_service_managed(member, "by-delegate", CallAs="DELEGATED_ADMIN")
    assert [s["StackSetName"] for s in cf.list_stack_sets()["Summaries"]] == ["by-delegate"]
    assert member.list_stack_sets()["Summaries"] == []  # CallAs SELF: the member's own stack sets
    op_id = member.create_stack_instances(
        StackSetName="by-delegate", DeploymentTargets={"OrganizationalUnitIds": [org.child]}, Regions=[REGION], CallAs="DELEGATED_ADMIN"
    )["OperationId"]
    assert _wait_operation(cf, "by-delegate", op_id)["Status"] == "SUCCEEDED"
    assert set(_results(cf, "by-delegate", op_id)) == {org.in_child, org.in_grandchild}

    cf.deactivate_organizations_access()
    assert cf.describe_organizations_access()["Status"] == "DISABLED"
    with pytest.raises(ClientError) as e:
        cf.create_stack_instances(StackSetName="by-delegate", DeploymentTargets={"OrganizationalUnitIds": [org.ou]}, Regions=[REGION])
    assert e.value.response["Error"]["Message"] == "You must enable organizations access to operate a service managed stack set"


def test_account_filter_types_combine_accounts_with_the_ous(aws, emulator):
    """AccountFilterType: INTERSECTION deploys to the named accounts of the OUs,
    DIFFERENCE to the OUs' accounts but the named ones, NONE to all the OUs'
    accounts; the management account is never a target.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html
    """
    org = _org(aws)
    cf = aws("cloudformation")
    for name, kind, accounts, expected in (
        ("inter", "INTERSECTION", [org.in_child, org.outside], {org.in_child}),
        ("diff", "DIFFERENCE", [org.in_child], {org.in_ou, org.in_grandchild}),
        ("none", "NONE", [], set(org.members)),
    ):
        _create_service_managed(cf, name)
        targets: dict[str, Any] = {"OrganizationalUnitIds": [org.ou], "AccountFilterType": kind}
        if accounts:
            targets["Accounts"] = accounts
        op_id = cf.create_stack_instances(StackSetName=name, DeploymentTargets=targets, Regions=[REGION])["OperationId"]
        assert _wait_operation(cf, name, op_id)["Status"] == "SUCCEEDED"
        assert set(_results(cf, name, op_id)) == expected, kind
    _create_service_managed(cf, "root")
    op_id = cf.create_stack_instances(
        StackSetName="root", DeploymentTargets={"OrganizationalUnitIds": [org.root]}, Regions=[REGION]
    )["OperationId"]
    _wait_operation(cf, "root", op_id)
    assert set(_results(cf, "root", op_id)) == set(org.members) | {org.outside}


def test_failure_tolerance_zero_stops_at_the_first_failed_account(aws, emulator):
    """With FailureToleranceCount 0 the first failed account stops the operation
    in the Region: the accounts not yet started are CANCELLED and the operation is
    FAILED; the failed account's result and stack instance carry the member
    stack's failure (here the VPC quota of that account), the instance is
    OUTDATED. Retried with a tolerance of 1, the other accounts deploy and the
    operation SUCCEEDED although one account failed again. (The stand-in takes
    accounts in ascending id order; AWS documents no order.)
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-concepts.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html
    https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html
    """
    org = _org(aws)
    cf = aws("cloudformation")
    first = sorted(org.members)[0]
    _set_quota(emulator.endpoint, first, "vpc", "L-F678F1CE", 1)  # its default VPC uses it up
    _create_service_managed(cf, "net", body=VPC_TEMPLATE)
    op_id = cf.create_stack_instances(
        StackSetName="net",
        DeploymentTargets={"OrganizationalUnitIds": [org.ou]},
        Regions=[REGION],
        OperationPreferences={"FailureToleranceCount": 0, "MaxConcurrentCount": 1},
    )["OperationId"]
    op = _wait_operation(cf, "net", op_id)
    assert op["Status"] == "FAILED"
    results = _results(cf, "net", op_id)
    assert results[first]["Status"] == "FAILED"
    assert "The maximum number of VPCs has been reached." in results[first]["StatusReason"]
    assert "ResourceLogicalId:Net" in results[first]["StatusReason"]
    others = [a for a in org.members if a != first]
    assert [results[a]["Status"] for a in others] == ["CANCELLED", "CANCELLED"]
    failed = cf.describe_stack_instance(StackSetName="net", StackInstanceAccount=first, StackInstanceRegion=REGION)["StackInstance"]
    assert failed["Status"] == "OUTDATED" and failed["StackInstanceStatus"]["DetailedStatus"] == "FAILED"
    assert "VPCs" in failed["StatusReason"]
    assert _member_stacks(emulator.endpoint, first, "net")[0]["StackStatus"] == "ROLLBACK_COMPLETE"
    cancelled = cf.describe_stack_instance(StackSetName="net", StackInstanceAccount=others[0], StackInstanceRegion=REGION)["StackInstance"]
    assert cancelled["StackInstanceStatus"]["DetailedStatus"] == "CANCELLED" and "StackId" not in cancelled
    assert _member_stacks(emulator.endpoint, others[0], "net") == []

    retry = cf.create_stack_instances(
        StackSetName="net",
        DeploymentTargets={"OrganizationalUnitIds": [org.ou]},
        Regions=[REGION],
        OperationPreferences={"FailureToleranceCount": 1, "MaxConcurrentCount": 2},
    )["OperationId"]
    assert _wait_operation(cf, "net", retry)["Status"] == "SUCCEEDED"
    results = _results(cf, "net", retry)
    assert results[first]["Status"] == "FAILED"
    assert [results[a]["Status"] for a in others] == ["SUCCEEDED", "SUCCEEDED"]
    statuses = {i["Account"]: i["Status"] for i in cf.list_stack_instances(StackSetName="net")["Summaries"]}
    assert statuses == {first: "OUTDATED", others[0]: "CURRENT", others[1]: "CURRENT"}


def _deploy_window(endpoint: str, account: str, stack_set: str) -> tuple[Any, Any]:
    """When the member stack started and when it was CREATE_COMPLETE."""
    stack = _member_stacks(endpoint, account, stack_set)[0]
    cf = _in_account(endpoint, account, "cloudformation")
    events = cf.describe_stack_events(StackName=stack["StackId"])["StackEvents"]
    done = next(e["Timestamp"] for e in events if e["LogicalResourceId"] == stack["StackName"] and e["ResourceStatus"] == "CREATE_COMPLETE")
    return stack["CreationTime"], done


def _overlaps(windows: list[tuple[Any, Any]]) -> int:
    """The most windows open at one time."""
    points = sorted([(start, 1) for start, _ in windows] + [(end, -1) for _, end in windows], key=lambda p: (p[0], p[1]))
    most = now = 0
    for _, step in points:
        now += step
        most = max(most, now)
    return most


def test_concurrency_follows_the_operation_preferences_and_one_operation_runs_at_a_time(aws, emulator):
    """At most MaxConcurrentCount accounts deploy at once; in the default
    STRICT_FAILURE_TOLERANCE mode the concurrency starts at the lower of
    MaxConcurrentCount and FailureToleranceCount + 1 (3 and 0 + 1: one account at a
    time), SOFT_FAILURE_TOLERANCE runs at MaxConcurrentCount. The operation is
    RUNNING meanwhile, with PENDING and RUNNING results, and another operation on
    the stack set is refused with OperationInProgressException.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackInstances.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationResultSummary.html
    """
    org = _org(aws)
    cf = aws("cloudformation")
    _set_service_scale(emulator.endpoint, 0.01)  # an instance is pending 0.3 s
    for name, prefs in (
        ("strict", {"MaxConcurrentCount": 3, "FailureToleranceCount": 0}),
        ("soft", {"MaxConcurrentCount": 3, "FailureToleranceCount": 0, "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}),
    ):
        _create_service_managed(cf, name, body=INSTANCE_TEMPLATE)
        op_id = cf.create_stack_instances(
            StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [org.ou]}, Regions=[REGION], OperationPreferences=prefs
        )["OperationId"]
        if name == "strict":
            running = cf.describe_stack_set_operation(StackSetName=name, OperationId=op_id)["StackSetOperation"]
            assert running["Status"] in ("QUEUED", "RUNNING")
            seen = eventually(
                lambda: {r["Status"] for r in _results(cf, name, op_id).values()} >= {"RUNNING", "PENDING"}, timeout=10, interval=0.05
            )
            assert seen
            with pytest.raises(ClientError) as e:
                cf.delete_stack_instances(
                    StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [org.ou]}, Regions=[REGION], RetainStacks=False
                )
            assert e.value.response["Error"]["Code"] == "OperationInProgressException"
            assert "is in progress" in e.value.response["Error"]["Message"]
        assert _wait_operation(cf, name, op_id)["Status"] == "SUCCEEDED"
    strict = [_deploy_window(emulator.endpoint, a, "strict") for a in org.members]
    soft = [_deploy_window(emulator.endpoint, a, "soft") for a in org.members]
    assert _overlaps(strict) == 1
    assert _overlaps(soft) == 3


def _operations(cf: Any, stack_set: str) -> list[dict[str, Any]]:
    return cf.list_stack_set_operations(StackSetName=stack_set)["Summaries"]


def _settled(cf: Any, stack_set: str, count: int) -> list[dict[str, Any]]:
    """The stack set's operations once there are ``count`` and all have finished."""
    ops = eventually(
        lambda: (lambda ops: ops if len(ops) == count and all(o["Status"] in ("SUCCEEDED", "FAILED") for o in ops) else None)(
            _operations(cf, stack_set)
        ),
        timeout=30,
        interval=0.1,
    )
    assert ops, _operations(cf, stack_set)
    return ops


def test_auto_deployment_follows_accounts_into_and_out_of_the_targeted_ous(aws, emulator):
    """With AutoDeployment enabled, an account moved into a targeted OU (here a
    grandchild OU) gets the stack set's instances in the Regions the OU is targeted
    with, without a CloudFormation call; an account created in the organization
    (under the root) does not; moved out again, its instances are deleted, or with
    RetainStacksOnAccountRemoval removed from the stack set while its stack stays.
    A stack set named in another's AutoDeployment.DependsOn completes first.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_AutoDeployment.html
    """
    org = _org(aws)
    cf, orgs = aws("cloudformation"), aws("organizations")
    _create_service_managed(cf, "base")
    base_arn = cf.describe_stack_set(StackSetName="base")["StackSet"]["StackSetARN"]
    # "apps" sorts first, but depends on "base"
    _create_service_managed(cf, "apps", AutoDeployment={**AUTO, "DependsOn": [base_arn]})
    _create_service_managed(cf, "kept", AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": True})
    for name in ("base", "apps", "kept"):
        op_id = cf.create_stack_instances(
            StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [org.ou]}, Regions=[REGION]
        )["OperationId"]
        assert _wait_operation(cf, name, op_id)["Status"] == "SUCCEEDED"

    late = orgs.create_account(AccountName="late", Email="late@example.com")["CreateAccountStatus"]["AccountId"]
    time.sleep(0.3)
    assert len(_operations(cf, "base")) == 1  # under the root: not targeted
    orgs.move_account(AccountId=late, SourceParentId=org.root, DestinationParentId=org.grandchild)
    for name in ("base", "apps", "kept"):
        ops = _settled(cf, name, 2)
        assert ops[0]["Action"] == "CREATE" and ops[0]["Status"] == "SUCCEEDED"
        assert set(_results(cf, name, ops[0]["OperationId"])) == {late}
    base_window = _deploy_window(emulator.endpoint, late, "base")
    apps_window = _deploy_window(emulator.endpoint, late, "apps")
    assert base_window[1] <= apps_window[0]
    instance = cf.describe_stack_instance(StackSetName="apps", StackInstanceAccount=late, StackInstanceRegion=REGION)["StackInstance"]
    assert instance["Status"] == "CURRENT" and instance["OrganizationalUnitId"] == org.ou

    # moving within the targeted tree changes nothing
    orgs.move_account(AccountId=late, SourceParentId=org.grandchild, DestinationParentId=org.child)
    time.sleep(0.3)
    assert len(_operations(cf, "base")) == 2

    stack_ids = {name: _member_stacks(emulator.endpoint, late, name)[0]["StackId"] for name in ("base", "kept")}
    orgs.move_account(AccountId=late, SourceParentId=org.child, DestinationParentId=org.root)
    for name in ("base", "apps", "kept"):
        ops = _settled(cf, name, 3)
        assert ops[0]["Action"] == "DELETE" and ops[0]["Status"] == "SUCCEEDED"
    member_cf = _in_account(emulator.endpoint, late, "cloudformation")
    assert member_cf.describe_stacks(StackName=stack_ids["base"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert member_cf.describe_stacks(StackName=stack_ids["kept"])["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    for name in ("base", "kept"):
        accounts = {i["Account"] for i in cf.list_stack_instances(StackSetName=name)["Summaries"]}
        assert accounts == set(org.members)


def test_delete_instances_by_ou_then_the_stack_set(aws, emulator):
    """DeleteStackSet fails with StackSetNotEmptyException while the stack set has
    instances; DeleteStackInstances with the OU deletes the member stacks (with
    RetainStacks only detaches them); then DeleteStackSet succeeds and the stack set
    is DELETED: ListStackSets lists it with Status DELETED, not ACTIVE, and
    DescribeStackSet by name no longer finds it.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStackSet.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStackInstances.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListStackSets.html
    """
    org = _org(aws)
    cf = aws("cloudformation")
    _create_service_managed(cf, "lab")
    op_id = cf.create_stack_instances(StackSetName="lab", DeploymentTargets={"OrganizationalUnitIds": [org.ou]}, Regions=[REGION])["OperationId"]
    _wait_operation(cf, "lab", op_id)
    stacks = {a: _member_stacks(emulator.endpoint, a, "lab")[0]["StackId"] for a in org.members}
    with pytest.raises(ClientError) as e:
        cf.delete_stack_set(StackSetName="lab")
    assert e.value.response["Error"]["Code"] == "StackSetNotEmptyException"

    # the grandchild OU's account only, keeping its stack
    op_id = cf.delete_stack_instances(
        StackSetName="lab", DeploymentTargets={"OrganizationalUnitIds": [org.grandchild]}, Regions=[REGION], RetainStacks=True
    )["OperationId"]
    op = _wait_operation(cf, "lab", op_id)
    assert op["Status"] == "SUCCEEDED" and op["RetainStacks"] is True
    assert set(_results(cf, "lab", op_id)) == {org.in_grandchild}
    kept = _in_account(emulator.endpoint, org.in_grandchild, "cloudformation")
    assert kept.describe_stacks(StackName=stacks[org.in_grandchild])["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"

    op_id = cf.delete_stack_instances(
        StackSetName="lab", DeploymentTargets={"OrganizationalUnitIds": [org.ou]}, Regions=[REGION], RetainStacks=False
    )["OperationId"]
    assert _wait_operation(cf, "lab", op_id)["Status"] == "SUCCEEDED"
    assert {r["Status"] for r in _results(cf, "lab", op_id).values()} == {"SUCCEEDED"}
    for account in (org.in_ou, org.in_child):
        member = _in_account(emulator.endpoint, account, "cloudformation")
        assert member.describe_stacks(StackName=stacks[account])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert cf.list_stack_instances(StackSetName="lab")["Summaries"] == []

    cf.delete_stack_set(StackSetName="lab")
    assert [s["StackSetName"] for s in cf.list_stack_sets(Status="ACTIVE")["Summaries"]] == []
    assert [(s["StackSetName"], s["Status"]) for s in cf.list_stack_sets(Status="DELETED")["Summaries"]] == [("lab", "DELETED")]
    with pytest.raises(ClientError) as e:
        cf.describe_stack_set(StackSetName="lab")
    assert e.value.response["Error"]["Code"] == "StackSetNotFoundException"
    _create_service_managed(cf, "lab")  # the name is free again


def test_update_stack_set_updates_every_member_stack(aws, emulator):
    """UpdateStackSet with new parameters (or a new template) is an UPDATE
    operation that updates the stack of every stack instance; the instances are
    CURRENT again when it SUCCEEDED.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStackSet.html
    """
    org = _org(aws)
    cf = aws("cloudformation")
    _create_service_managed(cf, "lab", Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "v1"}])
    op_id = cf.create_stack_instances(StackSetName="lab", DeploymentTargets={"OrganizationalUnitIds": [org.ou]}, Regions=[REGION])["OperationId"]
    _wait_operation(cf, "lab", op_id)
    op_id = cf.update_stack_set(
        StackSetName="lab",
        UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "v2"}],
        OperationPreferences={"MaxConcurrentCount": 3, "FailureToleranceCount": 2},
    )["OperationId"]
    op = _wait_operation(cf, "lab", op_id)
    assert op["Action"] == "UPDATE" and op["Status"] == "SUCCEEDED"
    assert set(_results(cf, "lab", op_id)) == set(org.members)
    for account in org.members:
        stack = _member_stacks(emulator.endpoint, account, "lab")[0]
        assert stack["StackStatus"] == "UPDATE_COMPLETE"
        value = _in_account(emulator.endpoint, account, "ssm").get_parameter(Name=stack["Outputs"][0]["OutputValue"])
        assert value["Parameter"]["Value"] == "v2"
    assert {i["Status"] for i in cf.list_stack_instances(StackSetName="lab")["Summaries"]} == {"CURRENT"}
