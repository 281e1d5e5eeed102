"""Step Functions: every state machine really runs.

moto 5.2.5 has two Step Functions backends: the default one executes nothing,
and the one behind ``POST /moto-api/config {"stepfunctions":
{"execute_state_machine": true}}`` runs the Amazon States Language
interpreter (Task with ``aws-sdk:*`` and optimised integrations, Pass, Choice,
Wait, Parallel, Map, Succeed, Fail, Retry, Catch, intrinsic functions, the
context object) in a thread per execution - but only for machines created
after the switch, and not for machines CloudFormation created.  This module:

* makes the interpreter's backend the only one (API, CloudFormation, the
  EventBridge delivery in ``moto.events``), whatever the config says;
* points the interpreter's AWS calls at the stand-in itself (its real port,
  in the execution's account) instead of ``localhost:5000``, through the
  Boto3 client behind the aws-sdk service name (``cloudwatchlogs`` -> ``logs``),
  with parameters and results in PascalCase also for camelCase APIs;
* makes those calls (``aws-sdk:*``, ``sns:publish`` and the other optimised
  integrations) with the state machine's role, as Step Functions does: it
  assumes ``RoleArn`` as ``states.amazonaws.com`` (trust policy evaluated,
  ``aws:SourceArn`` = the state machine, ``aws:SourceAccount``; one session
  per execution, named after it), so every call is authorised against the
  role's policies and a denial is the service's error
  (``Ec2.Ec2Exception`` with "You are not authorized to perform this
  operation. User: ... is not authorized to perform: ec2:..." in the cause,
  ``SNS.AuthorizationErrorException``); a role the service cannot assume fails
  the task with ``States.Runtime`` "Neither the global service principal
  states.amazonaws.com, nor the regional one is authorized to assume the
  provided role.";
* returns AWS SDK results the way Step Functions does, as JSON (timestamps
  become ISO 8601 strings, so ``DescribeExecution`` no longer fails on them),
  and names SDK errors ``<ServicePrefix>.<Error>Exception`` with the
  service's documented prefix (``Ec2.Ec2Exception`` for EC2, whose errors the
  SDKs do not model; ``Ssm.InvalidInstanceIdException`` ...);
* CreateStateMachine / UpdateStateMachine refuse a definition AWS refuses
  (``InvalidDefinition`` with AWS's diagnostics: JSON, StartAt, transition
  targets, terminal and unreachable states, query-language fields, aws-sdk
  services, actions and parameter names; see ``_asl_validate``) - moto only
  checked what its parser could not read;
* ``POST /moto-api/reset`` stops the running executions first;
* ``Wait`` states and retry intervals really wait in the execution's thread
  (times the wait scale of ``_clock``), interrupted by StopExecution; so does
  the ``TimeoutSeconds`` / ``TimeoutSecondsPath`` of a ``.waitForTaskToken``
  task, a wait for someone to call SendTaskSuccess (the timeout of a task that
  does the work itself stays real, like an SSM step's); SendTaskFailure keeps
  its ``cause``;
* gives ``$$.Execution.StartTime`` / ``$$.State.EnteredTime`` AWS's format
  (``2024-05-01T12:00:00.123Z``) and an unnamed execution a UUID name;
* ``AWS::StepFunctions::StateMachine`` takes ``Definition`` (an object),
  ``DefinitionString`` or ``DefinitionS3Location`` with
  ``DefinitionSubstitutions``, ``StateMachineType``, ``Tags`` (plus the stack
  tags); ``Ref`` is the ARN, ``GetAtt`` ``Arn``/``Name``/``StateMachineRevisionId``;
  literal nulls in ``Definition`` (``ResultPath: null``) are kept; updates
  are in place (a new name or type replaces it).

In-process entry point (for EventBridge targets): :func:`start_execution`.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import sys
import time
import types
import uuid
from typing import Any

from moto.core.exceptions import AWSError
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state import state as asl_state
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk,
)
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend import execution as parser_execution
from moto.stepfunctions.parser.api import InvalidDefinition as ParserInvalidDefinition
from moto.stepfunctions.parser.models import (
    StepFunctionsParserBackend,
    stepfunctions_parser_backends,
)

from . import _asl_validate, _cfn, _clock, _local, _sdk_models

log = logging.getLogger("irlab_emulator.stepfunctions")


def backend(account_id: str, region_name: str) -> StepFunctionsParserBackend:
    return stepfunctions_parser_backends[account_id][region_name]


def start_execution(
    state_machine_arn: str, execution_input: str | dict[str, Any] | None = None, name: str | None = None
) -> str:
    """Start an execution of ``state_machine_arn`` (account and Region are
    taken from the ARN) with ``execution_input`` (JSON text or an object);
    returns the execution ARN.  The execution runs in a background thread;
    follow it with DescribeExecution / GetExecutionHistory."""
    parts = state_machine_arn.split(":")
    region_name, account_id = parts[3], parts[4]
    if execution_input is None:
        execution_input = "{}"
    elif not isinstance(execution_input, str):
        execution_input = json.dumps(execution_input)
    execution = backend(account_id, region_name).start_execution(
        state_machine_arn, name or None, execution_input
    )
    return execution.execution_arn


# --------------------------------------------------------------------------
# one backend, the executing one


def _get_backend(account: str, region: str) -> StepFunctionsParserBackend:
    return stepfunctions_parser_backends[account][region]


_orig_start_execution = StepFunctionsParserBackend.start_execution


def _start_execution(self: StepFunctionsParserBackend, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
    # StartExecution: "If you don't provide a name for the execution, Step
    # Functions automatically generates a universally unique identifier (UUID)"
    if not name:
        name = str(uuid.uuid4())
    else:
        self._validate_name(name)
    return _orig_start_execution(self, state_machine_arn, name, *args, **kwargs)


# --------------------------------------------------------------------------
# CreateStateMachine / UpdateStateMachine: AWS's static checks of the
# definition (``_asl_validate``) before moto's parser


class InvalidDefinition(AWSError):
    """Serialised with its code (moto's parser raised an exception its
    responses answered as ``UnknownError``)."""

    TYPE = "InvalidDefinition"
    STATUS = 400


_orig_validate_definition = StepFunctionsParserBackend._validate_definition


def _validate_definition(definition: str) -> None:
    found = _asl_validate.diagnostics(definition)
    if found:
        raise InvalidDefinition(_asl_validate.message(found))
    try:
        _orig_validate_definition(definition=definition)
    except ParserInvalidDefinition as exc:  # what moto's parser cannot read, in its words
        raise InvalidDefinition(f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {exc}'") from exc


# --------------------------------------------------------------------------
# AWS calls, results and errors of aws-sdk tasks


CANNOT_ASSUME = (
    "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume "
    "the provided role."
)


def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    role_arn = getattr(state_credentials, "role_arn", None)
    credentials = None
    if role_arn:
        try:
            credentials = _local.service_credentials(
                role_arn,
                "states.amazonaws.com",
                session_name=getattr(state_credentials, "irlab_session_name", None),
                source_arn=getattr(state_credentials, "irlab_source_arn", None),
                source_account=_local.account_of(getattr(state_credentials, "irlab_source_arn", None) or role_arn),
                region=region,
            )
        except _local.CannotAssume as exc:
            log.info("%s: %s", role_arn, exc)
            raise RuntimeError(CANNOT_ASSUME) from exc
    return _local.client(
        service,
        region,
        _local.account_of(role_arn),
        credentials=credentials,
        parameter_validation=False,
        connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
    )


_orig_eval_state_credentials = None


def _eval_state_credentials(self: Any, env: Any) -> Any:
    """The task's credentials, with the execution it runs for: the session
    is named after the execution, ``aws:SourceArn`` is the state machine."""
    credentials = _orig_eval_state_credentials(self, env)  # type: ignore[misc]
    try:
        data = env.states.context_object.context_object_data
        credentials.irlab_source_arn = data["StateMachine"]["Id"]
        credentials.irlab_session_name = data["Execution"]["Name"]
    except (AttributeError, KeyError, TypeError):
        pass
    return credentials


def aws_time(value: datetime.datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as Step Functions prints times."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def as_json(value: Any) -> Any:
    """An SDK response as Step Functions hands it on: JSON values only."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        return aws_time(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    return value


_orig_boto_service_name = aws_sdk.StateTaskServiceAwsSdk._get_boto_service_name


def _boto_service_name(self: Any, boto_service_name: str | None = None) -> str:
    """The Boto3 client behind an aws-sdk service name (``cloudwatchlogs`` ->
    ``logs``, ``eventbridge`` -> ``events``, ``sfn`` -> ``stepfunctions``);
    moto used the Step Functions name as the client name."""
    names = _sdk_models.boto_names_for_sfn(boto_service_name or self.resource.api_name)
    return names[0] if names else _orig_boto_service_name(self, boto_service_name)


def _sdk_operation(self: Any) -> Any:
    return _sdk_models.sfn_operation(self.resource.api_name, self.resource.api_action)


def _normalise_sdk_parameters(self: Any, parameters: dict, *args: Any, **kwargs: Any) -> None:
    """Parameters are PascalCase in Step Functions, also for camelCase APIs
    (``LogGroupNamePrefix`` for CloudWatch Logs' ``logGroupNamePrefix``)."""
    operation = _sdk_operation(self)
    if operation is not None and operation.input_shape is not None:
        converted = _sdk_models.to_boto_request(parameters, operation.input_shape)
        parameters.clear()
        parameters.update(converted)


def _normalise_sdk_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
    """... and so are the names of the result (``LogGroups``)."""
    operation = _sdk_operation(self)
    if isinstance(response, dict) and operation is not None and operation.output_shape is not None:
        converted = _sdk_models.to_sfn_result(response, operation.output_shape)
        response.clear()
        response.update(converted)


_orig_eval_service_task = aws_sdk.StateTaskServiceAwsSdk._eval_service_task


def _eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
    _orig_eval_service_task(self, env, *args, **kwargs)
    env.stack.append(as_json(env.stack.pop()))


# "Exception prefix" column of the AWS SDK integrations table (the services a
# playbook plausibly calls); any other service: its name with a capital.
ERROR_PREFIXES = {
    "acm": "Acm",
    "cloudformation": "CloudFormation",
    "cloudtrail": "CloudTrail",
    "cloudwatch": "CloudWatch",
    "cloudwatchlogs": "CloudWatchLogs",
    "dynamodb": "DynamoDb",
    "ec2": "Ec2",
    "ecs": "Ecs",
    "eventbridge": "EventBridge",
    "guardduty": "GuardDuty",
    "iam": "Iam",
    "kms": "Kms",
    "lambda": "Lambda",
    "s3": "S3",
    "secretsmanager": "SecretsManager",
    "securityhub": "SecurityHub",
    "sfn": "Sfn",
    "sns": "Sns",
    "sqs": "Sqs",
    "ssm": "Ssm",
    "sts": "Sts",
    "wafv2": "Wafv2",
}


def _normalise_service_error_name(service_name: str) -> str:
    lower = service_name.lower()
    return ERROR_PREFIXES.get(lower, lower[:1].upper() + lower[1:])


# --------------------------------------------------------------------------
# Wait states and retry intervals: real waits (times the wait scale) that a
# StopExecution interrupts


def _wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
    deadline = time.monotonic() + _clock.seconds(wait_seconds)
    while env.is_running():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if env.program_state_event.wait(remaining) and env.is_running():
            time.sleep(min(remaining, 0.05))  # an unrelated wake-up: keep waiting


_scaled_time = types.SimpleNamespace(sleep=lambda s: time.sleep(_clock.seconds(s)), time=time.time)


def _is_callback(state: Any) -> bool:
    resource = getattr(state, "resource", None)
    return str(getattr(resource, "condition", "") or "") == "waitForTaskToken"


def _evaluate_with_timeout(self: Any, env: Any) -> None:
    """ExecutionState's timeout, scaled for a ``.waitForTaskToken`` task."""
    if not _is_callback(self):
        return _orig_evaluate_with_timeout(self, env)
    original_eval = self.timeout.eval

    def scaled(env: Any) -> None:
        original_eval(env=env)
        env.stack.append(_clock.seconds(env.stack.pop()))

    # The callback's own wait evaluates the timeout again, in the execution's thread, while
    # this patch stands: it is scaled once, here.
    self.timeout.eval = scaled
    try:
        return _orig_evaluate_with_timeout(self, env)
    finally:
        del self.timeout.eval


def _response_send_task_failure(self: Any) -> Any:
    """SendTaskFailure with its ``cause`` ("A more detailed explanation of the
    cause of the failure"), which moto's response handler dropped: the caught
    error's Cause was null.
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html"""
    from moto.core.responses import EmptyResult

    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


_orig_evaluate_with_timeout: Any = None


# --------------------------------------------------------------------------
# JSONPath: a definite path (fields and literal indices only) selects one value

_DEFINITE_PATH = re.compile(r"""^\$(?:\.[^.\[\]*?()@,:'"]+|\[-?\d+\]|\['[^']*'\]|\["[^"]*"\])*$""")


def extract_json(path: str, data: Any) -> Any:
    """A definite path (``$.Reservations[0].Instances[0].InstanceId``)
    selects one value and fails when it is absent; any other path (wildcard,
    slice, filter, ``..``) selects the list of its matches, empty when nothing
    matches.  (moto 5.2.5 wraps any value below an index in a list and turns a
    single wildcard match into a scalar.)  As moto does, an indefinite path
    ending in a literal index with one match yields that match."""
    matches = json_path.parse(path).find(data)
    if _DEFINITE_PATH.match(path.strip()):
        if not matches:
            raise json_path.NoSuchJsonPathError(json_path=path, data=data)
        return matches[0].value
    values = [match.value for match in matches]
    if len(values) == 1 and json_path._is_singleton_array_access(path):
        return values[0]
    return values


_orig_extract_json = json_path.extract_json


_orig_reflect = parser_execution.BaseExecutionWorkerCommunication._reflect_execution_status


def _reflect_execution_status(self: Any) -> None:
    _orig_reflect(self)
    if self.execution.output is not None:
        self.execution.output = as_json(self.execution.output)  # DescribeExecution serialises it


# --------------------------------------------------------------------------
# context object times


def _state_data(**fields: Any) -> dict[str, Any]:
    entered = fields.get("EnteredTime")
    if isinstance(entered, str):
        try:
            fields["EnteredTime"] = aws_time(datetime.datetime.fromisoformat(entered))
        except ValueError:
            pass
    return dict(fields)


_orig_start_details = parser_execution.Execution.get_start_execution_details


def _get_start_execution_details(self: Any) -> Any:
    details = _orig_start_details(self)
    if isinstance(details.start_time, datetime.datetime):
        details.start_time = aws_time(details.start_time)
    return details


# --------------------------------------------------------------------------
# CloudFormation: AWS::StepFunctions::StateMachine


def definition_text(props: dict[str, Any], account_id: str, region_name: str) -> str:
    """The definition CloudFormation passes to CreateStateMachine: the
    ``Definition`` object serialised as JSON, ``DefinitionString``, or the S3
    object, with each ``${key}`` of ``DefinitionSubstitutions`` replaced."""
    if props.get("Definition") is not None:
        definition = props["Definition"]
        text = definition if isinstance(definition, str) else json.dumps(definition)
    elif props.get("DefinitionString") is not None:
        text = str(props["DefinitionString"])
    elif props.get("DefinitionS3Location"):
        from moto.s3.models import s3_backends

        location = props["DefinitionS3Location"]
        s3 = s3_backends[account_id]["aws"]
        key = s3.get_object(location["Bucket"], location["Key"], version_id=location.get("Version"))
        text = key.value.decode("utf-8")
        if not text.lstrip().startswith("{"):
            import yaml

            text = json.dumps(yaml.safe_load(text))
    else:
        raise ValueError("One of Definition, DefinitionString or DefinitionS3Location is required")
    for key, value in (props.get("DefinitionSubstitutions") or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        # the value lands inside JSON text (usually a string): escape it as JSON would
        text = text.replace("${" + str(key) + "}", json.dumps(str(value))[1:-1])
    return text


class StateMachineHandler(sfn_models.StateMachine):
    """AWS::StepFunctions::StateMachine (Ref: ARN; GetAtt Arn, Name, StateMachineRevisionId)."""

    @staticmethod
    def cloudformation_name_type() -> str:
        return "StateMachineName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::StepFunctions::StateMachine"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Name", "StateMachineName", "StateMachineRevisionId", "DefinitionString", "RoleArn")

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        props = _cfn.props_of(cloudformation_json)
        tags = [{"key": k, "value": v} for k, v in _cfn.tag_list_to_dict(props.get("Tags")).items()]
        machine = backend(account_id, region_name).create_state_machine(
            name=props.get("StateMachineName") or resource_name,
            definition=definition_text(props, account_id, region_name),
            roleArn=props.get("RoleArn", ""),
            tags=tags or None,
            loggingConfiguration=_camel(props.get("LoggingConfiguration")),
            tracingConfiguration=_camel(props.get("TracingConfiguration")),
            sm_type=props.get("StateMachineType") or "STANDARD",
        )
        machine.type = props.get("StateMachineType") or "STANDARD"
        machine.__class__ = cls
        return machine

    @classmethod
    def irlab_update(
        cls, resource: Any, old_props: dict, new_props: dict, logical_id: str, account_id: str, region_name: str
    ) -> Any:
        if (old_props.get("StateMachineName") != new_props.get("StateMachineName")) or (
            (old_props.get("StateMachineType") or "STANDARD") != (new_props.get("StateMachineType") or "STANDARD")
        ):
            raise _cfn.NeedsReplacement()
        sfn = backend(account_id, region_name)
        sfn.update_state_machine(
            resource.arn,
            definition=definition_text(new_props, account_id, region_name),
            role_arn=new_props.get("RoleArn") or None,
            logging_configuration=_camel(new_props.get("LoggingConfiguration")),
            tracing_configuration=_camel(new_props.get("TracingConfiguration")),
        )
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        removed = [k for k in old_tags if k not in new_tags]
        if removed:
            sfn.untag_resource(resource.arn, removed)
        if new_tags:
            sfn.tag_resource(resource.arn, new_tags)
        return resource

    @classmethod
    def irlab_delete(cls, resource: Any, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend(account_id, region_name).delete_state_machine(resource.arn)

    @classmethod
    def irlab_tag(cls, resource: Any, tags: dict[str, str], account_id: str, region_name: str) -> None:
        backend(account_id, region_name).tag_resource(resource.arn, tags)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.arn
        if attribute_name == "StateMachineRevisionId":
            return getattr(self, "revision_id", None) or self.arn
        return super().get_cfn_attribute(attribute_name)


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase property structure -> the API's camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


# --------------------------------------------------------------------------
# POST /moto-api/reset stops the running executions (they would otherwise go
# on calling AWS APIs against the fresh, empty stand-in)


def stop_all_executions() -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    for regions in list(stepfunctions_parser_backends.values()):
        for sfn in list(regions.values()):
            for state_machine in list(sfn.state_machines):
                for execution in list(state_machine.executions):
                    if getattr(execution, "exec_status", None) is not None and execution.status == "RUNNING":
                        try:
                            execution.stop(stop_date=now, error="irlab.Reset", cause="the stand-in was reset")
                        except Exception:  # an execution that is just ending
                            log.debug("could not stop %s", execution.execution_arn, exc_info=True)


def _hook_reset() -> None:
    from moto.moto_api._internal.models import MotoAPIBackend

    if getattr(MotoAPIBackend.reset, "_irlab_stepfunctions", False):
        return
    original_reset = MotoAPIBackend.reset

    def reset(self: Any) -> None:
        stop_all_executions()
        original_reset(self)

    reset._irlab_stepfunctions = True  # type: ignore[attr-defined]
    MotoAPIBackend.reset = reset  # type: ignore[method-assign]


# --------------------------------------------------------------------------


def apply() -> None:
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    sfn_responses.get_backend = _get_backend
    sfn_models.stepfunctions_backends = stepfunctions_parser_backends
    StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]
    StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition)  # type: ignore[method-assign,assignment]

    # every interpreter module that imported boto_client_for by name
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and hasattr(module, "boto_client_for"):
            module.boto_client_for = _boto_client_for  # type: ignore[attr-defined]
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "extract_json", None) is _orig_extract_json:
            module.extract_json = extract_json  # type: ignore[attr-defined]
    aws_sdk.StateTaskServiceAwsSdk._eval_service_task = _eval_service_task  # type: ignore[method-assign]
    aws_sdk.StateTaskServiceAwsSdk._get_boto_service_name = _boto_service_name  # type: ignore[method-assign]
    aws_sdk.StateTaskServiceAwsSdk._normalise_parameters = _normalise_sdk_parameters  # type: ignore[method-assign]
    aws_sdk.StateTaskServiceAwsSdk._normalise_response = _normalise_sdk_response  # type: ignore[method-assign]
    aws_sdk.StateTaskServiceAwsSdk._normalise_service_error_name = staticmethod(  # type: ignore[method-assign]
        _normalise_service_error_name
    )
    global _orig_eval_state_credentials
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask

    if _orig_eval_state_credentials is None:
        _orig_eval_state_credentials = StateTask._eval_state_credentials
        StateTask._eval_state_credentials = _eval_state_credentials  # type: ignore[method-assign]
    wait_function.WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]
    global _orig_evaluate_with_timeout
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    sfn_responses.StepFunctionResponse.send_task_failure = _response_send_task_failure  # type: ignore[method-assign]
    if _orig_evaluate_with_timeout is None:
        _orig_evaluate_with_timeout = execute_state.ExecutionState._evaluate_with_timeout
        execute_state.ExecutionState._evaluate_with_timeout = _evaluate_with_timeout  # type: ignore[method-assign]
    retrier_decl.time = _scaled_time  # type: ignore[attr-defined]
    _clock.apply()
    _hook_reset()
    asl_state.StateData = _state_data  # type: ignore[attr-defined,assignment]
    parser_execution.Execution.get_start_execution_details = _get_start_execution_details  # type: ignore[method-assign]
    parser_execution.BaseExecutionWorkerCommunication._reflect_execution_status = _reflect_execution_status  # type: ignore[method-assign]
    _cfn.register(StateMachineHandler)
    _cfn.keep_literal_nulls("AWS::StepFunctions::StateMachine", "Definition")
    # the interpreter logs every state failure at ERROR with the whole parse
    # tree; a Catch is ordinary control flow, and the history has the details
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
