"""GuardDuty findings: sample findings, the finding APIs, EventBridge delivery,
and a simulation hook that raises a real-shaped finding for a real instance.

moto 5.2.5 answers 404 to all the finding operations.  Here, per detector (the
findings vanish with ``DeleteDetector``):

* ``CreateSampleFindings(DetectorId, FindingTypes)``: one sample finding per
  requested type, every type of :data:`FINDING_TYPES` when none is given.  The
  shape is GuardDuty's (schema 2.0): ``resource.resourceType`` Instance with
  GuardDuty's placeholder instance (``i-99999999``, ``ami-99999999``,
  ``eni-bfcffe88``, ``GeneratedFinding...`` values), AccessKey or S3Bucket for
  IAM and S3 types; ``service.additionalInfo.sample = true``; ``archived``
  false; ``count``; ``eventFirstSeen``/``eventLastSeen``; severity by type
  (GuardDuty's default: High 8, Medium 5, Low 2; 5 for types the stand-in does
  not know).  Generating a type again updates that sample (``count`` + 1, new
  ``updatedAt``), as GuardDuty aggregates repeats of a finding.  The title is
  not prefixed: the console shows ``[SAMPLE]``, the API marks samples with
  ``additionalInfo``.  A suspended (DISABLED) detector generates no findings.
* ``ListFindings`` (``FindingCriteria`` on any finding attribute path -
  ``type``, ``severity``, ``id``, ``updatedAt``/``createdAt`` as epoch
  milliseconds, ``service.archived``, ``service.additionalInfo.sample``,
  ``resource.instanceDetails.instanceId``, ...; conditions ``Equals``/``Eq``,
  ``NotEquals``/``Neq``, ``GreaterThan``/``Gt``, ``GreaterThanOrEqual``/``Gte``,
  ``LessThan``/``Lt``, ``LessThanOrEqual``/``Lte``; ``SortCriteria``,
  ``MaxResults`` 1-50, ``NextToken``), ``GetFindings`` (unknown ids are left
  out), ``ArchiveFindings`` / ``UnarchiveFindings``, ``GetFindingsStatistics``
  (``COUNT_BY_SEVERITY``).  Through the API ``service.additionalInfo`` is
  ``{"value": "<json>", "type": "default"}``, in the EventBridge event it is
  the object itself.
* Every new or updated finding of an ENABLED detector is put on the default
  event bus as ``source: aws.guardduty``, ``detail-type: GuardDuty Finding``,
  ``detail`` = the finding (through ``events.submit``: GuardDuty is not bound by
  the PutEvents refusal of ``aws.`` sources), in the order generated, after
  ``_timing.FINDING_TO_EVENTBRIDGE_S`` (5 minutes: GuardDuty sends a new
  finding within 5 minutes) at the wait scale; until then it counts as
  background work for ``GET /moto-api/irlab/idle``, and a reset drops it.
  Updates go out after the same delay, not per ``FindingPublishingFrequency``.
* ``POST /moto-api/irlab/guardduty/findings`` - a simulation hook (the
  stand-in sees no traffic): ``{"detectorId", "type", "instanceId",
  "severity"?, "remoteIp"?, "domain"?}`` raises a non-sample finding for that
  EC2 instance, with ``instanceDetails`` read from EC2 (type, image, launch
  time, state, zone, profile, every interface with VPC, subnet, groups, private
  and public IPs, tags), and delivers it like GuardDuty.  ``x-moto-account-id``
  selects the account; the detector's Region is used.  A suspended detector
  (409), an IP on an active trusted IP list (409), and a ``*.Custom`` type whose
  IP is on no active threat list (409) raise nothing, as in GuardDuty.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import math
import time
import uuid
from typing import Any

from moto.guardduty import urls as guardduty_urls
from moto.guardduty.models import Detector, GuardDutyBackend, guardduty_backends
from moto.guardduty.responses import GuardDutyResponse
from moto.utilities.utils import get_partition

from . import _clock, _runtime, _timing
from .guardduty import BadRequestException

log = logging.getLogger("irlab_emulator.guardduty")

HIGH, MEDIUM, LOW = 8.0, 5.0, 2.0
FALLBACK_SEVERITY = MEDIUM
INVALID_INPUT = "The request is rejected because an invalid or out-of-range value is specified as an input parameter."

# type -> (default severity, action, resource role, description).  Actions:
# dns, out (outbound connection), in (inbound connection), probe (port probe),
# api (AWS API call).  Default severities and descriptions: GuardDuty's finding
# type pages (EC2, IAM, S3).
FINDING_TYPES: dict[str, tuple[float, str, str, str]] = {
    "Backdoor:EC2/C&CActivity.B!DNS": (HIGH, "dns", "ACTOR", "EC2 instance {instance} is querying a domain name that is associated with a known command and control server."),
    "Backdoor:EC2/DenialOfService.Dns": (HIGH, "out", "ACTOR", "EC2 instance {instance} is behaving in a manner that may indicate it is being used to perform a Denial of Service (DoS) attack using the DNS protocol."),
    "Backdoor:EC2/DenialOfService.Tcp": (HIGH, "out", "ACTOR", "EC2 instance {instance} is behaving in a manner indicating it is being used to perform a Denial of Service (DoS) attack using the TCP protocol."),
    "Backdoor:EC2/DenialOfService.Udp": (HIGH, "out", "ACTOR", "EC2 instance {instance} is behaving in a manner indicating it is being used to perform a Denial of Service (DoS) attack using the UDP protocol."),
    "Backdoor:EC2/DenialOfService.UdpOnTcpPorts": (HIGH, "out", "ACTOR", "EC2 instance {instance} is behaving in a manner that may indicate it is being used to perform a Denial of Service (DoS) attack using the UDP protocol on a TCP port."),
    "Backdoor:EC2/DenialOfService.UnusualProtocol": (HIGH, "out", "ACTOR", "EC2 instance {instance} is behaving in a manner that may indicate it is being used to perform a Denial of Service (DoS) attack using an unusual protocol."),
    "Backdoor:EC2/Spambot": (MEDIUM, "out", "ACTOR", "EC2 instance {instance} is exhibiting unusual behavior by communicating with a remote host on port 25."),
    "Behavior:EC2/NetworkPortUnusual": (MEDIUM, "out", "ACTOR", "EC2 instance {instance} is communicating with a remote host on an unusual server port."),
    "Behavior:EC2/TrafficVolumeUnusual": (HIGH, "out", "ACTOR", "EC2 instance {instance} is generating unusually large amounts of network traffic to a remote host."),
    "CryptoCurrency:EC2/BitcoinTool.B": (HIGH, "out", "ACTOR", "EC2 instance {instance} is querying an IP address that is associated with cryptocurrency-related activity."),
    "CryptoCurrency:EC2/BitcoinTool.B!DNS": (HIGH, "dns", "ACTOR", "EC2 instance {instance} is querying a domain name that is associated with cryptocurrency-related activity."),
    "Impact:EC2/BitcoinDomainRequest.Reputation": (HIGH, "dns", "ACTOR", "EC2 instance {instance} is querying a domain name that is associated with cryptocurrency-related activity."),
    "Impact:EC2/MassIPScan": (HIGH, "out", "ACTOR", "EC2 instance {instance} is scanning a large number of IP addresses."),
    "Impact:EC2/WinRMBruteForce": (HIGH, "out", "ACTOR", "EC2 instance {instance} has been involved in an outbound Windows Remote Management brute force attack."),
    "Recon:EC2/PortProbeEMRUnprotectedPort": (HIGH, "probe", "TARGET", "EC2 instance {instance} has an unprotected EMR-related port which is being probed by a known malicious host."),
    "Recon:EC2/PortProbeUnprotectedPort": (LOW, "probe", "TARGET", "EC2 instance {instance} has an unprotected port which is being probed by a known malicious host."),
    "Recon:EC2/Portscan": (MEDIUM, "out", "ACTOR", "EC2 instance {instance} is performing outbound port scans to a remote host."),
    "Trojan:EC2/BlackholeTraffic": (MEDIUM, "out", "ACTOR", "EC2 instance {instance} is attempting to communicate with an IP address of a remote host that is a known black hole."),
    "Trojan:EC2/BlackholeTraffic!DNS": (MEDIUM, "dns", "ACTOR", "EC2 instance {instance} is querying a domain name that is being redirected to a black hole IP address."),
    "Trojan:EC2/DGADomainRequest.B": (HIGH, "dns", "ACTOR", "EC2 instance {instance} is querying algorithmically generated domains. Such domains are commonly used by malware and could be an indication of a compromised EC2 instance."),
    "Trojan:EC2/DGADomainRequest.C!DNS": (HIGH, "dns", "ACTOR", "EC2 instance {instance} is querying algorithmically generated domains. Such domains are commonly used by malware and could be an indication of a compromised EC2 instance."),
    "Trojan:EC2/DNSDataExfiltration": (HIGH, "dns", "ACTOR", "EC2 instance {instance} is exfiltrating data through DNS queries."),
    "Trojan:EC2/DriveBySourceTraffic!DNS": (HIGH, "dns", "ACTOR", "EC2 instance {instance} is querying a domain name of a remote host that is a known source of Drive-By download attacks."),
    "Trojan:EC2/DropPoint": (MEDIUM, "out", "ACTOR", "EC2 instance {instance} is attempting to communicate with an IP address of a remote host that is known to hold credentials and other stolen data captured by malware."),
    "Trojan:EC2/DropPoint!DNS": (HIGH, "dns", "ACTOR", "EC2 instance {instance} is querying a domain name of a remote host that is known to hold credentials and other stolen data captured by malware."),
    "Trojan:EC2/PhishingDomainRequest!DNS": (HIGH, "dns", "ACTOR", "EC2 instance {instance} is querying domains involved in phishing attacks."),
    "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom": (MEDIUM, "out", "ACTOR", "EC2 instance {instance} is communicating with {ip}, an IP address on a custom threat list."),
    "UnauthorizedAccess:EC2/MetadataDNSRebind": (HIGH, "dns", "ACTOR", "EC2 instance {instance} is performing DNS lookups that resolve to the instance metadata service."),
    "UnauthorizedAccess:EC2/RDPBruteForce": (LOW, "in", "TARGET", "{ip} is performing RDP brute force attacks against {instance}. Brute force attacks are used to gain unauthorized access to your instance by guessing the RDP password."),
    "UnauthorizedAccess:EC2/SSHBruteForce": (LOW, "in", "TARGET", "{ip} is performing SSH brute force attacks against {instance}. Brute force attacks are used to gain unauthorized access to your instance by guessing the SSH password."),
    "UnauthorizedAccess:EC2/TorClient": (HIGH, "out", "ACTOR", "EC2 instance {instance} is making connections to a Tor Guard or an Authority node."),
    "UnauthorizedAccess:EC2/TorIPCaller": (MEDIUM, "in", "TARGET", "EC2 instance {instance} is receiving inbound connections from a Tor exit node."),
    "UnauthorizedAccess:EC2/TorRelay": (HIGH, "out", "ACTOR", "EC2 instance {instance} is making connections to a Tor network as a Tor relay."),
    "PenTest:IAMUser/KaliLinux": (MEDIUM, "api", "ACTOR", "An API was invoked from a Kali Linux machine."),
    "PenTest:IAMUser/ParrotLinux": (MEDIUM, "api", "ACTOR", "An API was invoked from a Parrot Security Linux machine."),
    "PenTest:IAMUser/PentooLinux": (MEDIUM, "api", "ACTOR", "An API was invoked from a Pentoo Linux machine."),
    "Policy:IAMUser/RootCredentialUsage": (LOW, "api", "ACTOR", "An API was invoked using root credentials."),
    "Recon:IAMUser/MaliciousIPCaller.Custom": (MEDIUM, "api", "ACTOR", "An API was invoked from an IP address on a custom threat list."),
    "Recon:IAMUser/TorIPCaller": (MEDIUM, "api", "ACTOR", "An API was invoked from a Tor exit node IP address."),
    "Stealth:IAMUser/CloudTrailLoggingDisabled": (LOW, "api", "ACTOR", "AWS CloudTrail trail was disabled."),
    "Stealth:IAMUser/PasswordPolicyChange": (LOW, "api", "ACTOR", "Account password policy was weakened."),
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration": (HIGH, "api", "ACTOR", "Credentials that were created exclusively for an EC2 instance through an Instance launch role are being used from an external IP address."),
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom": (MEDIUM, "api", "ACTOR", "An API was invoked from an IP address on a custom threat list."),
    "UnauthorizedAccess:IAMUser/TorIPCaller": (MEDIUM, "api", "ACTOR", "An API was invoked from a Tor exit node IP address."),
    "Policy:S3/BucketBlockPublicAccessDisabled": (LOW, "api", "ACTOR", "An IAM entity invoked an API used to disable S3 block public access on a bucket."),
    "Stealth:S3/ServerAccessLoggingDisabled": (LOW, "api", "ACTOR", "S3 server access logging was disabled for a bucket."),
}

SAMPLE_IP = "198.51.100.0"
SAMPLE_DOMAIN = "GeneratedFindingDomainName"
# the public GuardDuty tester's test domain (DNS findings)
DEFAULT_DOMAIN = "guarddutyc2activityb.com"
DEFAULT_REMOTE_IP = "198.51.100.1"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _parse_time(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value
    if not isinstance(value, str) or len(value) < 10 or value[4:5] != "-":
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def findings_of(detector: Detector) -> dict[str, dict[str, Any]]:
    """The detector's findings, finding id -> finding (EventBridge form)."""
    if not hasattr(detector, "irlab_findings"):
        detector.irlab_findings = {}  # type: ignore[attr-defined]
    return detector.irlab_findings  # type: ignore[attr-defined]


def _info(finding_type: str) -> tuple[float, str, str, str]:
    known = FINDING_TYPES.get(finding_type)
    if known:
        return known
    resource = finding_type.partition(":")[2].partition("/")[0]
    if resource in ("IAMUser", "S3"):
        return FALLBACK_SEVERITY, "api", "ACTOR", f"{finding_type} activity was detected."
    action = "dns" if finding_type.endswith("!DNS") else "out"
    return FALLBACK_SEVERITY, action, "ACTOR", f"{finding_type} activity was detected on EC2 instance {{instance}}."


def _resource_kind(finding_type: str) -> str:
    resource = finding_type.partition(":")[2].partition("/")[0]
    return {"IAMUser": "AccessKey", "S3": "S3Bucket"}.get(resource, "Instance")


def _feature(action: str) -> str:
    return {"dns": "DnsLogs", "api": "CloudTrail"}.get(action, "FlowLogs")


def _title(description: str) -> str:
    return description.split(". ")[0].rstrip(".") + "."


# --------------------------------------------------------------------------
# finding shapes


def _remote_ip_details(ip: str, sample: bool) -> dict[str, Any]:
    if sample:
        return {
            "ipAddressV4": ip,
            "organization": {"asn": "-1", "asnOrg": "GeneratedFindingASNOrg", "isp": "GeneratedFindingISP", "org": "GeneratedFindingORG"},
            "country": {"countryName": "GeneratedFindingCountryName"},
            "city": {"cityName": "GeneratedFindingCityName"},
            "geoLocation": {"lat": 0, "lon": 0},
        }
    return {"ipAddressV4": ip}


def _action(action: str, ip: str, domain: str, local_ip: str | None, sample: bool, finding_type: str) -> dict[str, Any]:
    remote = _remote_ip_details(ip, sample)
    if action == "dns":
        return {
            "actionType": "DNS_REQUEST",
            "dnsRequestAction": {"domain": domain, "protocol": "0" if sample else "UDP", "blocked": bool(sample)},
        }
    if action == "api":
        return {
            "actionType": "AWS_API_CALL",
            "awsApiCallAction": {
                "api": "GeneratedFindingAPIName",
                "serviceName": "GeneratedFindingAPIServiceName",
                "callerType": "Remote IP",
                "remoteIpDetails": remote,
            },
        }
    local = {"ipAddressV4": local_ip} if local_ip else None
    if action == "probe":
        detail: dict[str, Any] = {"localPortDetails": {"port": 22, "portName": "SSH"}, "remoteIpDetails": remote}
        if local:
            detail["localIpDetails"] = local
        return {"actionType": "PORT_PROBE", "portProbeAction": {"blocked": False, "portProbeDetails": [detail]}}
    if action == "in":
        port = (3389, "RDP") if "RDP" in finding_type else (22, "SSH")
        connection: dict[str, Any] = {
            "connectionDirection": "INBOUND",
            "remoteIpDetails": remote,
            "remotePortDetails": {"port": 32794, "portName": "Unknown"},
            "localPortDetails": {"port": port[0], "portName": port[1]},
            "protocol": "TCP",
            "blocked": False,
        }
    else:
        connection = {
            "connectionDirection": "OUTBOUND",
            "remoteIpDetails": remote,
            "remotePortDetails": {"port": 443, "portName": "HTTPS"},
            "localPortDetails": {"port": 39677, "portName": "Unknown"},
            "protocol": "TCP",
            "blocked": False,
        }
    if local:
        connection["localIpDetails"] = local
    return {"actionType": "NETWORK_CONNECTION", "networkConnectionAction": connection}


def _sample_instance_details(account_id: str, partition: str) -> dict[str, Any]:
    tags = [{"key": "GeneratedFindingInstaceTag1", "value": "GeneratedFindingInstaceValue1"}]
    tags += [{"key": f"GeneratedFindingInstaceTag{i}", "value": f"GeneratedFindingInstaceTagValue{i}"} for i in range(2, 10)]
    return {
        "instanceId": "i-99999999",
        "instanceType": "m3.xlarge",
        "launchTime": "2016-08-02T02:05:06.000Z",
        "platform": None,
        "productCodes": [{"productCodeId": "GeneratedFindingProductCodeId", "productCodeType": "GeneratedFindingProductCodeType"}],
        "iamInstanceProfile": {
            "arn": f"arn:{partition}:iam::{account_id}:example/instance/profile",
            "id": "GeneratedFindingInstanceProfileId",
        },
        "networkInterfaces": [
            {
                "ipv6Addresses": [],
                "networkInterfaceId": "eni-bfcffe88",
                "privateDnsName": "GeneratedFindingPrivateDnsName",
                "privateIpAddress": "10.0.0.1",
                "privateIpAddresses": [{"privateDnsName": "GeneratedFindingPrivateName", "privateIpAddress": "10.0.0.1"}],
                "publicDnsName": "GeneratedFindingPublicDNSName",
                "publicIp": SAMPLE_IP,
                "securityGroups": [{"groupId": "GeneratedFindingSecurityId", "groupName": "GeneratedFindingSecurityGroupName"}],
                "subnetId": "GeneratedFindingSubnetId",
                "vpcId": "GeneratedFindingVPCId",
            }
        ],
        "tags": tags,
        "instanceState": "running",
        "availabilityZone": "GeneratedFindingInstaceAvailabilityZone",
        "imageId": "ami-99999999",
        "imageDescription": "GeneratedFindingInstaceImageDescription",
    }


def _sample_resource(kind: str, account_id: str, partition: str) -> dict[str, Any]:
    access_key = {
        "accessKeyId": "GeneratedFindingAccessKeyId",
        "principalId": "GeneratedFindingPrincipalId",
        "userName": "GeneratedFindingUserName",
        "userType": "IAMUser",
    }
    if kind == "AccessKey":
        return {"resourceType": "AccessKey", "accessKeyDetails": access_key}
    if kind == "S3Bucket":
        return {
            "resourceType": "S3Bucket",
            "accessKeyDetails": access_key,
            "s3BucketDetails": [
                {
                    "arn": f"arn:{partition}:s3:::bucketName",
                    "name": "bucketName",
                    "type": "Destination",
                    "createdAt": "2017-12-18T15:58:11.551Z",
                    "owner": {"id": "CanonicalId of Owner"},
                    "tags": [{"key": "foo", "value": "bar"}],
                }
            ],
        }
    return {"resourceType": "Instance", "instanceDetails": _sample_instance_details(account_id, partition)}


def _finding(
    backend: GuardDutyBackend,
    detector_id: str,
    finding_type: str,
    resource: dict[str, Any],
    severity: float,
    description: str,
    action: dict[str, Any],
    role: str,
    additional: dict[str, Any],
    feature: str,
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    partition = get_partition(backend.region_name)
    finding_id = uuid.uuid4().hex
    now = _iso(_now())
    service: dict[str, Any] = {
        "serviceName": "guardduty",
        "detectorId": detector_id,
        "action": action,
        "resourceRole": role,
        "additionalInfo": additional,
        "featureName": feature,
        "eventFirstSeen": now,
        "eventLastSeen": now,
        "archived": False,
        "count": 1,
    }
    if evidence:
        service["evidence"] = evidence
    return {
        "schemaVersion": "2.0",
        "accountId": backend.account_id,
        "region": backend.region_name,
        "partition": partition,
        "id": finding_id,
        "arn": f"arn:{partition}:guardduty:{backend.region_name}:{backend.account_id}:detector/{detector_id}/finding/{finding_id}",
        "type": finding_type,
        "resource": resource,
        "service": service,
        "severity": float(severity),
        "createdAt": now,
        "updatedAt": now,
        "title": _title(description),
        "description": description,
    }


def _sample(backend: GuardDutyBackend, detector_id: str, finding_type: str) -> dict[str, Any]:
    severity, action, role, template = _info(finding_type)
    kind = _resource_kind(finding_type)
    partition = get_partition(backend.region_name)
    additional: dict[str, Any] = {"sample": True}
    evidence = None
    if finding_type.endswith(".Custom"):
        additional = {"threatListName": "GeneratedFindingThreatListName", "sample": True}
        evidence = {"threatIntelligenceDetails": [{"threatListName": "GeneratedFindingThreatListName", "threatNames": []}]}
    elif action == "dns":
        additional = {"domain": "GeneratedFindingAdditionalDomainName", "sample": True}
    description = template.format(instance="i-99999999", ip=SAMPLE_IP, domain=SAMPLE_DOMAIN)
    return _finding(
        backend,
        detector_id,
        finding_type,
        _sample_resource(kind, backend.account_id, partition),
        severity,
        description,
        _action(action, SAMPLE_IP, SAMPLE_DOMAIN, "10.0.0.1", True, finding_type),
        role,
        additional,
        _feature(action),
        evidence,
    )


# --------------------------------------------------------------------------
# EventBridge


# One thread: findings reach EventBridge in the order GuardDuty generated them.
_sender = _runtime.Worker("guardduty-findings")


def publish(backend: GuardDutyBackend, detector: Detector, finding: dict[str, Any]) -> bool:
    """Send the finding to the default bus, as GuardDuty does, after
    ``_timing.FINDING_TO_EVENTBRIDGE_S`` document seconds; False when the
    detector is suspended (nothing is sent)."""
    if not detector.enabled:
        return False
    due = _clock.now() + _timing.FINDING_TO_EVENTBRIDGE_S
    _sender.submit(
        _send_when_due, due, _runtime.generation(), backend.account_id, backend.region_name, copy.deepcopy(finding)
    )
    return True


def _send_when_due(due: float, generation: int, account_id: str, region_name: str, finding: dict[str, Any]) -> None:
    # Held until due (following changes of the wait scale), unless the
    # stand-in is reset meanwhile; counted as background work until sent.
    while True:
        if _runtime.generation() != generation:
            log.info("finding %s: not sent (the stand-in was reset before it was due)", finding.get("id"))
            return
        remaining = _clock.real_until(due)
        if remaining <= 0:
            break
        time.sleep(min(remaining, 0.05))
    from . import events

    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": account_id,
        "time": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region_name,
        "resources": [],
        "detail": finding,
    }
    events.submit(account_id, region_name, "default", event)


# --------------------------------------------------------------------------
# API form and criteria


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def api_form(finding: dict[str, Any]) -> dict[str, Any]:
    """The finding as GetFindings returns it: ``service.additionalInfo`` is
    ``{"value": <JSON text>, "type": "default"}``."""
    result = _strip_none(copy.deepcopy(finding))
    service = result.get("service") or {}
    if isinstance(service.get("additionalInfo"), dict) and set(service["additionalInfo"]) != {"value", "type"}:
        service["additionalInfo"] = {
            "value": json.dumps(service["additionalInfo"], separators=(",", ":")),
            "type": "default",
        }
    return result


def _values(finding: dict[str, Any], path: str) -> list[Any]:
    nodes: list[Any] = [finding]
    for part in path.split("."):
        following: list[Any] = []
        for node in nodes:
            if isinstance(node, dict) and part in node:
                value = node[part]
                following.extend(value if isinstance(value, list) else [value])
        nodes = following
    return [n for n in nodes if n is not None and not isinstance(n, (dict, list))]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    parsed = _parse_time(value)
    if parsed is not None:
        return parsed.timestamp() * 1000.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _equal(value: Any, wanted: Any) -> bool:
    if isinstance(value, bool):
        return str(value).lower() == str(wanted).strip().lower()
    if isinstance(value, (int, float)):
        try:
            number = float(wanted)
        except (TypeError, ValueError):
            return False
        return number == value or (number.is_integer() and math.floor(value) == number)
    if _parse_time(value) is not None:
        wanted_time = _parse_time(wanted)
        if wanted_time is not None:
            return wanted_time == _parse_time(value)
        try:
            return float(wanted) == _number(value)
        except (TypeError, ValueError):
            return False
    return str(value) == str(wanted)


EQUALS = ("eq", "equals")
NOT_EQUALS = ("neq", "notEquals")
COMPARE = {
    "gt": lambda a, b: a > b,
    "greaterThan": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "greaterThanOrEqual": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lessThan": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "lessThanOrEqual": lambda a, b: a <= b,
}


def _validate_criteria(criteria: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    criterion = (criteria or {}).get("criterion") or {}
    if not isinstance(criterion, dict):
        raise BadRequestException(INVALID_INPUT)
    for condition in criterion.values():
        if not isinstance(condition, dict):
            raise BadRequestException(INVALID_INPUT)
        for operator, argument in condition.items():
            if operator in ("matches", "notMatches"):
                raise BadRequestException(
                    f"The request is rejected because the {operator} condition is available only for CreateFilter and UpdateFilter."
                )
            if operator in EQUALS + NOT_EQUALS:
                if not isinstance(argument, list) or len(argument) > 50:
                    raise BadRequestException(INVALID_INPUT)
            elif operator in COMPARE:
                if isinstance(argument, bool) or not isinstance(argument, (int, float)):
                    raise BadRequestException(INVALID_INPUT)
            else:
                raise BadRequestException(INVALID_INPUT)
    return criterion


def matches(finding: dict[str, Any], criterion: dict[str, dict[str, Any]]) -> bool:
    for path, condition in criterion.items():
        values = _values(finding, path)
        for operator, argument in condition.items():
            if operator in EQUALS:
                if not any(_equal(v, a) for v in values for a in argument):
                    return False
            elif operator in NOT_EQUALS:
                if any(_equal(v, a) for v in values for a in argument):
                    return False
            else:
                compare = COMPARE[operator]
                numbers = [n for n in (_number(v) for v in values) if n is not None]
                if not any(compare(n, float(argument)) for n in numbers):
                    return False
    return True


def _sorted(findings: list[dict[str, Any]], sort: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not sort or not sort.get("attributeName"):
        return findings
    attribute = sort["attributeName"]
    descending = str(sort.get("orderBy") or "ASC").upper() == "DESC"

    def key(finding: dict[str, Any]) -> tuple[int, Any]:
        values = _values(finding, attribute)
        if not values:
            return (1, 0)
        number = _number(values[0])
        return (0, number) if number is not None else (0, str(values[0]))

    present = [f for f in findings if _values(f, attribute)]
    absent = [f for f in findings if not _values(f, attribute)]
    try:
        present.sort(key=key, reverse=descending)
    except TypeError:  # mixed numbers and text
        present.sort(key=lambda f: str(_values(f, attribute)[0]), reverse=descending)
    return present + absent


# --------------------------------------------------------------------------
# backend operations


def create_sample_findings(backend: GuardDutyBackend, detector_id: str, finding_types: list[str] | None) -> None:
    detector = backend.get_detector(detector_id)
    types = list(dict.fromkeys(finding_types or FINDING_TYPES))
    if len(types) > 50 and finding_types:
        raise BadRequestException(INVALID_INPUT)
    for finding_type in types:
        if not isinstance(finding_type, str) or not finding_type.strip():
            raise BadRequestException(INVALID_INPUT)
    if not detector.enabled:
        # "If you suspend GuardDuty, it no longer monitors ... or generates new findings."
        return
    store = findings_of(detector)
    for finding_type in types:
        existing = next(
            (
                f
                for f in store.values()
                if f["type"] == finding_type and (f["service"].get("additionalInfo") or {}).get("sample") is True
            ),
            None,
        )
        if existing is not None:
            now = _iso(_now())
            existing["service"]["count"] = int(existing["service"].get("count") or 0) + 1
            existing["service"]["eventLastSeen"] = now
            existing["updatedAt"] = now
            finding = existing
        else:
            finding = _sample(backend, detector_id, finding_type)
            store[finding["id"]] = finding
        publish(backend, detector, finding)


def list_findings(
    backend: GuardDutyBackend,
    detector_id: str,
    criteria: dict[str, Any] | None,
    sort: dict[str, Any] | None,
    max_results: Any,
    next_token: str | None,
) -> tuple[list[str], str | None]:
    detector = backend.get_detector(detector_id)
    criterion = _validate_criteria(criteria)
    try:
        size = int(max_results) if max_results is not None else 50
        start = int(next_token) if next_token else 0
    except (TypeError, ValueError) as exc:
        raise BadRequestException(INVALID_INPUT) from exc
    if not 1 <= size <= 50 or start < 0:
        raise BadRequestException(INVALID_INPUT)
    selected = [f for f in findings_of(detector).values() if matches(f, criterion)]
    ids = [f["id"] for f in _sorted(selected, sort)]
    page = ids[start : start + size]
    return page, (str(start + size) if start + size < len(ids) else None)


def get_findings(
    backend: GuardDutyBackend, detector_id: str, finding_ids: list[str], sort: dict[str, Any] | None
) -> list[dict[str, Any]]:
    detector = backend.get_detector(detector_id)
    if not isinstance(finding_ids, list) or len(finding_ids) > 50:
        raise BadRequestException(INVALID_INPUT)
    store = findings_of(detector)
    found = [store[i] for i in dict.fromkeys(finding_ids) if i in store]
    return [api_form(f) for f in _sorted(found, sort)]


def set_archived(backend: GuardDutyBackend, detector_id: str, finding_ids: list[str], archived: bool) -> None:
    detector = backend.get_detector(detector_id)
    if not isinstance(finding_ids, list) or len(finding_ids) > 50:
        raise BadRequestException(INVALID_INPUT)
    store = findings_of(detector)
    for finding_id in finding_ids:
        if finding_id in store:
            store[finding_id]["service"]["archived"] = archived


def findings_statistics(
    backend: GuardDutyBackend, detector_id: str, types: list[str] | None, criteria: dict[str, Any] | None, group_by: str | None
) -> dict[str, Any]:
    detector = backend.get_detector(detector_id)
    if bool(types) == bool(group_by):
        raise BadRequestException(
            "The request is rejected because you must provide either findingStatisticTypes or groupBy, and not both."
        )
    if group_by:
        raise BadRequestException("The request is rejected because the stand-in implements only findingStatisticTypes COUNT_BY_SEVERITY.")
    if any(t != "COUNT_BY_SEVERITY" for t in types or []):
        raise BadRequestException(INVALID_INPUT)
    criterion = _validate_criteria(criteria)
    counts: dict[str, int] = {}
    for finding in findings_of(detector).values():
        if matches(finding, criterion):
            key = str(float(finding["severity"]))
            counts[key] = counts.get(key, 0) + 1
    return {"countBySeverity": counts}


# --------------------------------------------------------------------------
# responses


def _detector_id(response: GuardDutyResponse) -> str:
    parts = response.path.rstrip("/").split("/")
    return parts[parts.index("detector") + 1]


def _r_create_sample_findings(self: GuardDutyResponse) -> str:
    create_sample_findings(self.guardduty_backend, _detector_id(self), self._get_param("findingTypes"))
    return "{}"


def _r_list_findings(self: GuardDutyResponse) -> str:
    ids, token = list_findings(
        self.guardduty_backend,
        _detector_id(self),
        self._get_param("findingCriteria"),
        self._get_param("sortCriteria"),
        self._get_param("maxResults"),
        self._get_param("nextToken"),
    )
    body: dict[str, Any] = {"findingIds": ids}
    if token:
        body["nextToken"] = token
    return json.dumps(body)


def _r_get_findings(self: GuardDutyResponse) -> str:
    findings = get_findings(
        self.guardduty_backend, _detector_id(self), self._get_param("findingIds") or [], self._get_param("sortCriteria")
    )
    return json.dumps({"findings": findings})


def _r_archive_findings(self: GuardDutyResponse) -> str:
    set_archived(self.guardduty_backend, _detector_id(self), self._get_param("findingIds") or [], True)
    return "{}"


def _r_unarchive_findings(self: GuardDutyResponse) -> str:
    set_archived(self.guardduty_backend, _detector_id(self), self._get_param("findingIds") or [], False)
    return "{}"


def _r_get_findings_statistics(self: GuardDutyResponse) -> str:
    statistics = findings_statistics(
        self.guardduty_backend,
        _detector_id(self),
        self._get_param("findingStatisticTypes"),
        self._get_param("findingCriteria"),
        self._get_param("groupBy"),
    )
    return json.dumps({"findingStatistics": statistics})


# --------------------------------------------------------------------------
# simulation hook: POST /moto-api/irlab/guardduty/findings


class SimulationError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _find_detector(account_id: str, detector_id: str) -> tuple[GuardDutyBackend, Detector]:
    for backend in list(guardduty_backends[account_id].values()):  # the Regions in use
        if detector_id in backend.detectors:
            return backend, backend.detectors[detector_id]
    raise SimulationError(404, f"detector {detector_id} does not exist in account {account_id}")


def _describe_instance(account_id: str, region: str, instance_id: str) -> dict[str, Any]:
    from . import _local

    ec2 = _local.client("ec2", region, account_id)
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except Exception as exc:  # noqa: BLE001 - InvalidInstanceID.NotFound and friends
        raise SimulationError(404, f"instance {instance_id} not found in {account_id}/{region}: {exc}") from exc
    instance = reservations[0]["Instances"][0]
    image_description = None
    try:
        images = ec2.describe_images(ImageIds=[instance["ImageId"]])["Images"]
        image_description = (images[0].get("Description") or images[0].get("Name")) if images else None
    except Exception:  # noqa: BLE001 - a deregistered image
        pass
    interfaces = []
    for eni in sorted(instance.get("NetworkInterfaces") or [], key=lambda e: (e.get("Attachment") or {}).get("DeviceIndex", 0)):
        association = eni.get("Association") or {}
        interfaces.append(
            {
                "ipv6Addresses": [a["Ipv6Address"] for a in eni.get("Ipv6Addresses") or []],
                "networkInterfaceId": eni.get("NetworkInterfaceId"),
                "privateDnsName": eni.get("PrivateDnsName"),
                "privateIpAddress": eni.get("PrivateIpAddress"),
                "privateIpAddresses": [
                    {"privateDnsName": a.get("PrivateDnsName"), "privateIpAddress": a.get("PrivateIpAddress")}
                    for a in eni.get("PrivateIpAddresses") or []
                ],
                "publicDnsName": association.get("PublicDnsName"),
                "publicIp": association.get("PublicIp"),
                "securityGroups": [{"groupId": g["GroupId"], "groupName": g["GroupName"]} for g in eni.get("Groups") or []],
                "subnetId": eni.get("SubnetId"),
                "vpcId": eni.get("VpcId"),
            }
        )
    launch = instance.get("LaunchTime")
    details: dict[str, Any] = {
        "instanceId": instance["InstanceId"],
        "instanceType": instance.get("InstanceType"),
        "launchTime": _iso(launch) if isinstance(launch, datetime.datetime) else launch,
        "platform": instance.get("Platform"),
        "productCodes": [
            {"productCodeId": p.get("ProductCodeId"), "productCodeType": p.get("ProductCodeType")}
            for p in instance.get("ProductCodes") or []
        ],
        "networkInterfaces": interfaces,
        "tags": [{"key": t["Key"], "value": t["Value"]} for t in instance.get("Tags") or []],
        "instanceState": (instance.get("State") or {}).get("Name"),
        "availabilityZone": (instance.get("Placement") or {}).get("AvailabilityZone"),
        "imageId": instance.get("ImageId"),
        "imageDescription": image_description,
    }
    profile = instance.get("IamInstanceProfile")
    if profile:
        details["iamInstanceProfile"] = {"arn": profile.get("Arn"), "id": profile.get("Id")}
    return details


def simulate(account_id: str, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    from . import guardduty_lists

    detector_id = request.get("detectorId")
    finding_type = request.get("type")
    instance_id = request.get("instanceId")
    missing = [k for k, v in (("detectorId", detector_id), ("type", finding_type), ("instanceId", instance_id)) if not v]
    if missing:
        raise SimulationError(400, f"missing {', '.join(missing)}")
    if not isinstance(finding_type, str) or ":" not in finding_type or "/" not in finding_type:
        raise SimulationError(400, f"{finding_type!r} is not a GuardDuty finding type (ThreatPurpose:ResourceType/ThreatFamily...)")
    if _resource_kind(finding_type) != "Instance":
        raise SimulationError(400, f"{finding_type} is not an EC2 finding type: the hook raises findings about instances")
    backend, detector = _find_detector(account_id, str(detector_id))
    if not detector.enabled:
        raise SimulationError(409, f"detector {detector_id} is suspended (DISABLED): GuardDuty generates no new findings")
    severity, action, role, template = _info(finding_type)
    if request.get("severity") is not None:
        try:
            severity = float(request["severity"])
        except (TypeError, ValueError) as exc:
            raise SimulationError(400, f"severity {request['severity']!r} is not a number") from exc
        if not 1.0 <= severity <= 10.0:
            raise SimulationError(400, f"severity {severity} is outside GuardDuty's 1-10 scale")
    details = _describe_instance(account_id, backend.region_name, str(instance_id))
    domain = str(request.get("domain") or DEFAULT_DOMAIN)
    remote_ip = request.get("remoteIp")
    additional: dict[str, Any] = {}
    evidence = None
    if finding_type.endswith(".Custom"):
        threat_list = guardduty_lists.threat_list_for(detector, remote_ip)
        if threat_list is None:
            raise SimulationError(
                409,
                f"{finding_type} needs the remote IP on an ACTIVE threat list (ThreatIntelSet) of detector {detector_id}: "
                + (f"{remote_ip} is on none" if remote_ip else "the detector has none with an entry"),
            )
        if not remote_ip:
            network = guardduty_lists.entries(threat_list)[0]
            remote_ip = str(network.network_address if network.num_addresses == 1 else next(network.hosts()))
        additional = {"threatListName": threat_list["name"]}
        evidence = {"threatIntelligenceDetails": [{"threatListName": threat_list["name"], "threatNames": []}]}
    remote_ip = str(remote_ip or DEFAULT_REMOTE_IP)
    if action != "dns" and guardduty_lists.trusted(detector, remote_ip):
        raise SimulationError(409, f"{remote_ip} is on an ACTIVE trusted IP list: GuardDuty raises no flow-log finding for it")
    if action == "dns":
        additional = {"domain": domain, **additional}
    interfaces = details.get("networkInterfaces") or []
    local_ip = interfaces[0].get("privateIpAddress") if interfaces else None
    description = template.format(instance=details["instanceId"], ip=remote_ip, domain=domain)
    finding = _finding(
        backend,
        str(detector_id),
        finding_type,
        {"resourceType": "Instance", "instanceDetails": details},
        severity,
        description,
        _action(action, remote_ip, domain, local_ip, False, finding_type),
        role,
        additional,
        _feature(action),
        evidence,
    )
    findings_of(detector)[finding["id"]] = finding
    return finding, publish(backend, detector, finding)


def _simulate_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    from moto.core import DEFAULT_ACCOUNT_ID

    json_headers = {"Content-Type": "application/json"}
    if request.method != "POST":
        return 405, json_headers, json.dumps({"message": "use POST"})
    try:
        length = int(headers.get("Content-Length") or 0)
        body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
    except (TypeError, ValueError) as exc:
        return 400, json_headers, json.dumps({"message": f"malformed JSON body: {exc}"})
    account_id = headers.get("x-moto-account-id") or DEFAULT_ACCOUNT_ID
    try:
        finding, delivered = simulate(account_id, body)
    except SimulationError as exc:
        return exc.status, json_headers, json.dumps({"message": exc.message})
    log.info("simulated finding %s (%s) for %s", finding["id"], finding["type"], body.get("instanceId"))
    return 200, json_headers, json.dumps({"findingId": finding["id"], "delivered": delivered, "finding": finding})


def apply() -> None:
    GuardDutyResponse.create_sample_findings = _r_create_sample_findings  # type: ignore[attr-defined]
    GuardDutyResponse.list_findings = _r_list_findings  # type: ignore[attr-defined]
    GuardDutyResponse.get_findings = _r_get_findings  # type: ignore[attr-defined]
    GuardDutyResponse.archive_findings = _r_archive_findings  # type: ignore[attr-defined]
    GuardDutyResponse.unarchive_findings = _r_unarchive_findings  # type: ignore[attr-defined]
    GuardDutyResponse.get_findings_statistics = _r_get_findings_statistics  # type: ignore[attr-defined]
    for suffix in ("", "/create", "/get", "/archive", "/unarchive", "/statistics"):
        guardduty_urls.url_paths.setdefault(
            f"{{0}}/detector/(?P<detector_id>[^/]+)/findings{suffix}$", GuardDutyResponse.dispatch
        )

    from moto.moto_api._internal import urls as moto_api_urls

    moto_api_urls.url_paths["{0}/moto-api/irlab/guardduty/findings"] = _simulate_response
