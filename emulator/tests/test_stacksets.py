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
    overrides and tags); the operation runs in the background, its results and
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

