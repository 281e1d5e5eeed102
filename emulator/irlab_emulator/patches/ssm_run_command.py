"""Systems Manager Run Command: the AWS-owned ``AWS-RunShellScript`` document
and SendCommand's document checks.

moto 5.2.5 has no AWS-owned documents (``DescribeDocument`` of
``AWS-RunShellScript`` fails) and runs ``SendCommand`` with any document name
and any parameters; its commands carry placeholders (``StatusDetails`` "Details
placeholder", a ``NotificationConfig`` with ARN "string").  Here:

* every account and Region has ``AWS-RunShellScript`` (Owner ``Amazon``,
  ``DocumentType`` Command, schema 1.2, parameters ``commands`` (required
  StringList), ``workingDirectory``, ``executionTimeout`` default "3600") for
  ``DescribeDocument`` / ``GetDocument`` / ``ListDocuments`` (not with
  ``Owner: Self``);
* ``SendCommand`` of a document that does not exist fails with
  ``InvalidDocument``; parameters the document does not define, or a required
  one left out, fail with ``InvalidParameters``; a document name may be given as
  its ARN;
* the command's ``StatusDetails`` is "Success" like its ``Status`` (the
  stand-in runs nothing, every invocation succeeds) and an unset
  ``NotificationConfig`` is ``{"NotificationArn": "", "NotificationEvents": [],
  "NotificationType": ""}``, as AWS returns it.

Targeting (only the given managed nodes) and ``ListCommandInvocations`` are
``ssm.py``'s.
"""

from __future__ import annotations

import json
from typing import Any

from moto.ssm import models as ssm_models
from moto.ssm.exceptions import InvalidDocument, SSMException

RUN_SHELL_SCRIPT = {
    "schemaVersion": "1.2",
    "description": "Run a shell script or specify the commands to run.",
    "parameters": {
        "commands": {
            "type": "StringList",
            "description": "(Required) Specify a shell script or a command to run.",
            "minItems": 1,
            "displayType": "textarea",
        },
        "workingDirectory": {
            "type": "String",
            "default": "",
            "description": "(Optional) The path to the working directory on your instance.",
            "maxChars": 4096,
        },
        "executionTimeout": {
            "type": "String",
            "default": "3600",
            "description": "(Optional) The time in seconds for a command to complete before it is considered to have failed. Default is 3600 (1 hour). Maximum is 172800 (48 hours).",
            "allowedPattern": "([1-9][0-9]{0,4})|(1[0-6][0-9]{4})|(17[0-1][0-9]{3})|(172[0-7][0-9]{2})|(172800)",
        },
    },
    "runtimeConfig": {
        "aws:runShellScript": {
            "properties": [
                {
                    "id": "0.aws:runShellScript",
                    "runCommand": "{{ commands }}",
                    "workingDirectory": "{{ workingDirectory }}",
                    "timeoutSeconds": "{{ executionTimeout }}",
                }
            ]
        }
    },
}
AWS_DOCUMENTS = {"AWS-RunShellScript": RUN_SHELL_SCRIPT}


class InvalidParameters(SSMException):
    code = "InvalidParameters"


def _add_aws_documents(backend: Any) -> None:
    for name, content in AWS_DOCUMENTS.items():
        if name in backend._documents:
            continue
        document = ssm_models.Document(
            account_id=backend.account_id,
            name=name,
            version_name=None,  # type: ignore[arg-type]
            content=json.dumps(content),
            document_type="Command",
            document_format="JSON",
            requires=[],  # type: ignore[arg-type]
            attachments=[],
            target_type="/AWS::EC2::Instance",
        )
        document.owner = "Amazon"
        document.platform_types = ["Linux", "MacOS"]
        backend._documents[name] = ssm_models.Documents(document)


def _document_name(name: str | None) -> str:
    """``arn:aws:ssm:REGION:ACCOUNT:document/NAME`` (or ``...::document/NAME``
    for AWS-owned documents) -> NAME."""
    name = name or ""
    if name.startswith("arn:") and ":document/" in name:
        return name.split(":document/", 1)[1]
    return name


def check_parameters(document: Any, parameters: dict[str, Any] | None) -> None:
    defined = (getattr(document, "content_json", None) or {}).get("parameters") or {}
    given = parameters or {}
    unknown = [p for p in given if p not in defined]
    if unknown:
        raise InvalidParameters(
            f"Parameters {unknown} are not defined in the document {document.name}; it defines {sorted(defined)}."
        )
    missing = [p for p, spec in defined.items() if isinstance(spec, dict) and "default" not in spec and p not in given]
    if missing:
        raise InvalidParameters(f"The document {document.name} requires the parameters {missing}.")


def apply() -> None:
    backend_cls = ssm_models.SimpleSystemManagerBackend
    original_init = backend_cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        _add_aws_documents(self)

    backend_cls.__init__ = __init__  # type: ignore[method-assign]

    original_send = backend_cls.send_command

    def send_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = _document_name(kwargs.get("document_name"))
        documents = self._documents.get(name)
        if documents is None:
            raise InvalidDocument("The specified document does not exist.")
        check_parameters(documents.get_default_version(), kwargs.get("parameters"))
        kwargs["document_name"] = name
        return original_send(self, *args, **kwargs)

    backend_cls.send_command = send_command  # type: ignore[method-assign]

    original_command_init = ssm_models.Command.__init__  # ssm.py's targeting already applied

    def command_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_command_init(self, *args, **kwargs)
        self.status_details = self.status
        if not kwargs.get("notification_config"):
            self.notification_config = {"NotificationArn": "", "NotificationEvents": [], "NotificationType": ""}

    ssm_models.Command.__init__ = command_init  # type: ignore[method-assign]
