"""AWS Organizations: the role Organizations creates in the accounts it creates.

AWS: an account created with ``CreateAccount`` gets an IAM role (``RoleName``,
default ``OrganizationAccountAccessRole``) that the management account may
assume, and the role "grants full administrative permissions" in the new
account (an inline policy ``AdministratorAccess`` allowing every action on
every resource), so the management account's administrators can work there:
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_access.html
https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateAccount.html
(RoleName).

moto 5.2.5 creates the role with the trust policy but with no permission at
all, so under the stand-in's IAM enforcement (``_iam_enforce``) the management
account could assume it and do nothing. Here the role also gets the inline
policy, as AWS creates it.
"""

from __future__ import annotations

import json
from typing import Any

ADMINISTRATOR_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def apply() -> None:
    from moto.iam import iam_backends
    from moto.organizations import models

    original = models.FakeAccount.__init__

    def __init__(self: Any, organization: Any, **kwargs: Any) -> None:
        original(self, organization, **kwargs)
        role_name = kwargs.get("RoleName", "OrganizationAccountAccessRole")
        iam = iam_backends[self.id]["global"]
        role = iam.get_role(role_name)
        if "AdministratorAccess" not in role.policies:
            iam.put_role_policy(role_name, "AdministratorAccess", json.dumps(ADMINISTRATOR_ACCESS))

    models.FakeAccount.__init__ = __init__
