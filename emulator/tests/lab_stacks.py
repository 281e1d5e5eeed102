"""Deploying the lab's real stacks the way irlab does: the region's shared parts
(stacks/shared.yaml: trail, bucket, VPC, Systems Manager endpoints) once per account and region, then each
lab's detection and victim stacks, the victim in its own /24 of the shared VPC."""

from __future__ import annotations

from typing import Any

from conftest import REPO_ROOT, create_stack

STACKS = REPO_ROOT / "stacks"
SHARED = STACKS / "shared.yaml"
SHARED_STACK = "irlab-shared"
SHARED_TAGS = [{"Key": "irlab:part", "Value": "shared"}]


def outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def shared(cf: Any) -> dict[str, str]:
    """The shared stack's outputs, creating it the first time."""
    try:
        [stack] = cf.describe_stacks(StackName=SHARED_STACK)["Stacks"]
        if stack["StackStatus"] == "CREATE_COMPLETE":
            return outputs(stack)
    except cf.exceptions.ClientError:
        pass
    stack = create_stack(cf, SHARED_STACK, SHARED.read_text(), Tags=SHARED_TAGS)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return outputs(stack)


def victim_parameters(cf: Any, lab: str, block: int | None = None) -> dict[str, str]:
    """LabName plus the shared VPC, its route table, its endpoints' security
    group and a /24 of it for the lab (irlab picks a free one; a test gives each of its labs a different block)."""
    out = shared(cf)
    if block is None:
        # the first free /24 from a start derived from the name, as irlab picks one
        import boto3

        ec2 = boto3.client(
            "ec2",
            endpoint_url=cf.meta.endpoint_url,
            region_name=cf.meta.region_name,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [out["VpcId"]]}])["Subnets"]
        used = {int(s["CidrBlock"].split(".")[2]) for s in subnets}
        start = sum(ord(c) for c in lab) % 254
        block = next(n for n in ((start + i) % 254 + 1 for i in range(254)) if n not in used)
    return {
        "LabName": lab,
        "VpcId": out["VpcId"],
        "RouteTableId": out["RouteTableId"],
        "SubnetCidr": f"10.42.{block}.0/24",
        "EndpointSecurityGroupId": out["EndpointSecurityGroupId"],
    }
