"""The lab's CloudFormation templates as the checks in this folder read them.

A template is parsed with its short-form intrinsics (``!Sub``, ``!GetAtt``,
...) and its values are resolved to what a stack of a sample lab would hold:
parameters take their default or a sample of the right shape, pseudo
parameters a sample account and region, and a reference to a resource a
plausible name, id or ARN of its type. A checker then sees the policy,
state machine definition or runbook that CloudFormation would hand to AWS,
not the template's intrinsics.

Only what the lab's templates use is resolved; anything else (an unknown
parameter, an attribute without a sample, an unsupported function) raises
:class:`Unresolvable` naming it, so a new template construct cannot slip
past the checks unread.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
LAB = "demo"

# Parameters without a default: a sample of the shape their AllowedPattern
# (or type) asks for.
PARAMETER_SAMPLES = {
    "LabName": LAB,
    "InstanceId": "i-0123456789abcdef0",
    "AlertTopicArn": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:irlab-{LAB}-detection-AlertTopic-ABCDEF123456",
    "AuditRecorderArn": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:irlab-{LAB}-audit-recorder",
    "OrganizationId": "o-a1b2c3d4e5",
    "InstanceRoleArn": f"arn:{PARTITION}:iam::{ACCOUNT}:role/irlab/{LAB}/{REGION}/irlab-{LAB}-victim-InstanceRole-ABCDEF123456",
    "TemplateBaseUrl": f"https://irlab-class-demo-templates-bucket.s3.{REGION}.amazonaws.com/templates/0123456789abcdef",
    "EvidenceBucketName": f"irlab-{LAB}-detection-evidencebucket-abcdef123456",
    "CollectDocumentName": f"irlab-{LAB}-detection-CollectDocument-ABCDEF123456",
    "MemoryDocumentName": f"irlab-{LAB}-detection-MemoryDocument-ABCDEF123456",
    # memory capture asked for (`up --memory`): the branch that sends the MemoryDocument is the one checked
    "MemoryTool": f"s3://irlab-{LAB}-detection-evidencebucket-abcdef123456/tools/avml",
    "MemoryToolSha256": "0123456789abcdef" * 4,
    # approvals asked for (`up --approval-timeout`): the eradication and recovery statements are checked
    "ApprovalTimeoutSeconds": "3600",
    "EradicateRoleArn": f"arn:{PARTITION}:iam::{ACCOUNT}:role/irlab/{LAB}/{REGION}/irlab-{LAB}-victim-EradicateRole-ABCDEF123456",
    "EradicateInstanceProfileArn": f"arn:{PARTITION}:iam::{ACCOUNT}:instance-profile/irlab/{LAB}/{REGION}/irlab-{LAB}-victim-EradicateInstanceProfile-ABCDEF123456",
    "EradicateDocumentName": f"irlab-{LAB}-detection-EradicateDocument-ABCDEF123456",
    "Approvers": f"arn:{PARTITION}:iam::{ACCOUNT}:role/Instructor",
}
TYPE_SAMPLES = {
    "AWS::EC2::SecurityGroup::Id": "sg-0123456789abcdef0",
    "AWS::EC2::VPC::Id": "vpc-0123456789abcdef0",
    "AWS::EC2::Subnet::Id": "subnet-0123456789abcdef0",
    "AWS::EC2::Image::Id": "ami-0123456789abcdef0",
    "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>": "ami-0123456789abcdef0",
}

# The property that names a resource, per type (else CloudFormation makes a
# name from the stack name and the logical id).
NAME_PROPERTY = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Events::Rule": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SSM::Document": "Name",
    "AWS::CloudTrail::Trail": "TrailName",
}
# Resource types whose Ref is an id with this prefix.
ID_PREFIX = {
    "AWS::EC2::VPC": "vpc-",
    "AWS::EC2::Subnet": "subnet-",
    "AWS::EC2::SecurityGroup": "sg-",
    "AWS::EC2::Instance": "i-",
    "AWS::EC2::InternetGateway": "igw-",
    "AWS::EC2::RouteTable": "rtb-",
}


class Unresolvable(Exception):
    """The template uses something these checks cannot give a value to."""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _intrinsic)


def _sample_id(prefix: str, seed: str) -> str:
    return prefix + hashlib.sha1(seed.encode()).hexdigest()[:17]


class Template:
    """One template of stacks/ and the values of a sample lab's stack of it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        with open(self.path, encoding="utf-8") as f:
            self.data: dict[str, Any] = yaml.load(f, Loader=_Loader) or {}
        self.stack_name = f"irlab-{LAB}-{self.path.stem}"
        self._conditions: dict[str, bool] = {}

    @property
    def label(self) -> str:
        """The path as the checks report it (relative to the repository)."""
        try:
            return str(self.path.resolve().relative_to(ROOT))
        except ValueError:
            return str(self.path)

    def resources(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(logical id, resource) of every resource, or of those types."""
        for logical, resource in (self.data.get("Resources") or {}).items():
            if isinstance(resource, dict) and (not types or resource.get("Type") in types):
                yield logical, resource

    # ------------------------------------------------------------ resolution

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by its sample value."""
        if isinstance(value, list):
            # An element that is AWS::NoValue (a false Fn::If) is not there.
            return [r for r in (self.resolve(v) for v in value) if r is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self._get_att(arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                sep, items = arg
                return str(sep).join(str(v) for v in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key == "Fn::If":
                name, then, other = arg
                return self.resolve(then if self.condition(name) else other)
            if key == "Fn::GetAZs":
                return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
            if key == "Fn::Base64":
                return self.resolve(arg)
            if key.startswith("Fn::"):
                raise Unresolvable(f"{self.label}: {key} is not resolved by checks/stacks.py")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not None}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            spec = (self.data.get("Conditions") or {}).get(name)
            if spec is None:
                raise Unresolvable(f"{self.label}: no condition {name}")
            self._conditions[name] = bool(self._evaluate(spec))
        return self._conditions[name]

    def _evaluate(self, spec: Any) -> Any:
        if isinstance(spec, dict) and len(spec) == 1:
            ((key, arg),) = spec.items()
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self._evaluate(arg[0])
            if key == "Fn::And":
                return all(self._evaluate(a) for a in arg)
            if key == "Fn::Or":
                return any(self._evaluate(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
        return self.resolve(spec)

    def parameter(self, name: str) -> Any:
        spec = (self.data.get("Parameters") or {}).get(name)
        if spec is None:
            raise Unresolvable(f"{self.label}: no parameter {name}")
        if name in PARAMETER_SAMPLES:
            return PARAMETER_SAMPLES[name]
        typ = spec.get("Type", "String")
        if typ in TYPE_SAMPLES:
            return TYPE_SAMPLES[typ]
        if "Default" in spec:
            return str(spec["Default"])
        if typ == "Number" and "MinValue" in spec:
            return str(spec["MinValue"])
        raise Unresolvable(f"{self.label}: no sample value for parameter {name} (add one to checks/stacks.py)")

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/"
            "01234567-89ab-cdef-0123-456789abcdef",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in (self.data.get("Parameters") or {}):
            return self.parameter(name)
        resource = (self.data.get("Resources") or {}).get(name)
        if resource is None:
            raise Unresolvable(f"{self.label}: Ref to nothing: {name}")
        typ = resource.get("Type", "")
        if typ in ID_PREFIX:
            return _sample_id(ID_PREFIX[typ], self.stack_name + name)
        if typ in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::IAM::ManagedPolicy"):
            return self._get_att([name, "Arn"])
        if typ == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self._name(name)}"
        return self._name(name)

    def _name(self, logical: str) -> str:
        resource = self.data["Resources"][logical]
        prop = NAME_PROPERTY.get(resource.get("Type", ""))
        given = (resource.get("Properties") or {}).get(prop) if prop else None
        if given is not None:
            return str(self.resolve(given))
        return f"{self.stack_name}-{logical}-ABCDEF123456"

    def _get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        logical, attribute = arg[0], self.resolve(arg[1])
        resource = (self.data.get("Resources") or {}).get(logical)
        if resource is None:
            raise Unresolvable(f"{self.label}: GetAtt of nothing: {logical}")
        typ = resource.get("Type", "")
        props = resource.get("Properties") or {}
        name = self._name(logical)
        path = str(self.resolve(props.get("Path", "/")))
        here = f"{REGION}:{ACCOUNT}"
        arns = {
            "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT}:role{path}{name}",
            "AWS::IAM::InstanceProfile": f"arn:{PARTITION}:iam::{ACCOUNT}:instance-profile{path}{name}",
            "AWS::IAM::ManagedPolicy": f"arn:{PARTITION}:iam::{ACCOUNT}:policy{path}{name}",
            "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{here}:{name}",
            "AWS::SNS::Topic": f"arn:{PARTITION}:sns:{here}:{name}",
            "AWS::Lambda::Function": f"arn:{PARTITION}:lambda:{here}:function:{name}",
            "AWS::Events::Rule": f"arn:{PARTITION}:events:{here}:rule/{name}",
            "AWS::StepFunctions::StateMachine": f"arn:{PARTITION}:states:{here}:stateMachine:{name}",
            "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{here}:log-group:{name}:*",
            "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{name}",
            "AWS::CloudTrail::Trail": f"arn:{PARTITION}:cloudtrail:{here}:trail/{name}",
        }
        if attribute in ("Arn", "TopicArn") and typ in arns:
            return arns[typ]
        if attribute in ("QueueName", "TopicName", "Name"):
            return name
        if attribute == "QueueUrl" and typ == "AWS::SQS::Queue":
            return self._ref(logical)
        if attribute == "RoleId":
            return "AROA" + hashlib.sha1(name.encode()).hexdigest()[:17].upper()
        if attribute == "GroupId" and typ == "AWS::EC2::SecurityGroup":
            return self._ref(logical)
        raise Unresolvable(f"{self.label}: no sample for {logical}.{attribute} ({typ}); add one to checks/stacks.py")

    _SUB_VAR = re.compile(r"\$\{([^}]*)\}")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, variables = arg, {}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} stays ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self._get_att(name.split(".", 1)))
            return str(self._ref(name))

        return self._SUB_VAR.sub(one, str(text))


def templates(paths: list[str] | None = None) -> list[Template]:
    """The templates named, or every template in stacks/."""
    if paths:
        return [Template(p) for p in paths]
    return [Template(p) for p in sorted((ROOT / "stacks").glob("*.yaml"))]
