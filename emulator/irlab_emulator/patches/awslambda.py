"""Lambda: the CloudFormation pieces needed now.

``AWS::Lambda::Permission`` gets a statement id (the generated physical id,
unless the template gives none - it cannot) so that deleting the stack removes
the statement from the function's resource policy again (moto could not delete
it).  The Docker-free Lambda runner will live in this module later.
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda.models import Permission, lambda_backends

from . import _cfn


class PermissionHandler(Permission):
    """AWS::Lambda::Permission (Ref: the statement id)."""

    def __init__(self, region: str, function_name: str, sid: str):
        super().__init__(region)
        self.function_name = function_name
        self.sid = sid

    @property
    def physical_resource_id(self) -> str:
        return self.sid

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> PermissionHandler:
        props = dict(_cfn.props_of(cloudformation_json))
        props.setdefault("StatementId", resource_name)
        backend = lambda_backends[account_id][region_name]
        fn = backend.get_function(props["FunctionName"])
        fn.policy.add_statement(raw=json.dumps(props))
        return cls(region_name, props["FunctionName"], props["StatementId"])

    @classmethod
    def irlab_update(cls, resource: Any, old_props: dict, new_props: dict, logical_id: str, account_id: str, region_name: str) -> Any:
        raise _cfn.NeedsReplacement()

    @classmethod
    def irlab_delete(cls, resource: PermissionHandler, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = lambda_backends[account_id][region_name]
        try:
            fn = backend.get_function(resource.function_name)
        except Exception:
            return  # the function is gone, and its policy with it
        fn.policy.del_statement(resource.sid)


def apply() -> None:
    _cfn.register(PermissionHandler)
