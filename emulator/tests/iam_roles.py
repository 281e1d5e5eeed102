"""Roles for the tests' engines.

The stand-in enforces IAM for the engines as AWS does (patches/_iam_enforce.py):
a Lambda function, a state machine, an automation or an EventBridge target
calls AWS with its role's credentials, after the service assumed the role
through its trust policy.  A test that is not about IAM gives its engine a
role the service may assume and that may do everything.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def _iam_like(client: Any) -> Any:
    return boto3.client(
        "iam",
        endpoint_url=client.meta.endpoint_url,
        region_name=client.meta.region_name,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def service_role(client: Any, service: str, name: str, policy: dict[str, Any] | None = ALLOW_ALL) -> str:
    """The ARN of role ``name`` (created if missing) that ``service`` (e.g.
    ``states.amazonaws.com``) may assume and that may do what ``policy``
    allows (everything by default).  ``client`` is any boto3 client of the
    stand-in."""
    iam = client if client.meta.service_model.service_name == "iam" else _iam_like(client)
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust(service)))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="test", PolicyDocument=json.dumps(policy))
    return arn
