"""Security group connection tracking: established flows on network interfaces
and what a change of security groups or rules does to them (stand-in model
and control; the stand-in carries no traffic).

What AWS documents ("Security group connection tracking", EC2 user guide,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html):

* security groups are stateful: a flow the rules allowed when it started is
  tracked, and its packets (both ways) keep flowing whatever the rules say
  later, until it has been idle for the tracking timeout ("An existing flow of
  traffic that is tracked may not be interrupted when you remove the security
  group rule that enables that flow");
* a TCP or UDP flow is untracked when a rule permits it for all traffic
  (``0.0.0.0/0``, or ``::/0`` for IPv6) and a rule in the other direction
  permits all response traffic (``0.0.0.0/0`` / ``::/0``) for all ports
  (0-65535); "ICMP traffic is always tracked, regardless of rules", and so is
  every other protocol (only TCP and UDP are named); the IPv4 and IPv6 rules
  count apart ("If you remove the outbound rule for IPv4 traffic, all inbound
  and outbound IPv4 traffic is tracked");
* "An untracked flow of traffic is immediately interrupted if the rule that
  enables the flow is removed or modified";
* connections through a NAT gateway or a transit gateway attachment (and load
  balancers, Global Accelerator, Network Firewall - not modelled) are tracked
  automatically whatever the rules;
* idle timeouts (defaults): TCP established 432000 s (5 days; 350 s on
  Nitro v6 types, not modelled), UDP 30 s (one direction or a single
  request-response), UDP stream 180 s; other protocols 600 s ("within 600
  seconds"). AWS publishes none for ICMP: the stand-in uses 30 s (a choice).

Hence the incident-response sequence of AWS's ``AWSSupport-ContainEC2Instance``
runbook (https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-awssupport-containec2instance.html):
move each interface first to an "all access" group (every protocol, both ways,
``0.0.0.0/0`` and ``::/0``), which makes the TCP/UDP flows untracked, then to
the containment group, which cuts them at once.  A swap straight to an empty
group leaves a tracked flow (the attacker's shell) alive.

The model: each flow belongs to a network interface and is ``tracked`` or not.
After every EC2 API request (and before answering the control) the flows of
that account and Region are judged against the groups and rules their
interfaces have now:

* rules that make the flow untracked: it is (a tracked flow becomes untracked:
  its packets no longer need the tracking entry - the step the runbook relies
  on; the stand-in applies it at once);
* otherwise a tracked flow lives on; an untracked flow lives on, now tracked,
  when the rules still allow it to start, and is dropped at once when they do
  not;
* a flow on an interface that is gone or whose instance is no longer running is
  dropped.

Idle time is not waited for: ``POST .../flows/idle`` declares a flow silent for
N seconds; at or past its timeout its tracking entry is gone and its next
packet is judged as a new flow (allowed: tracked or untracked again; not
allowed: dropped).

Control (header ``x-moto-account-id`` for another account):

* ``POST /moto-api/irlab/ec2/flows`` ``{"instanceId" (its primary interface) or
  "networkInterfaceId", "region"?, "protocol": "tcp"|"udp"|"icmp"|number,
  "remoteIp", "remotePort"?, "localPort"?, "direction": "inbound"|"outbound"}``
  (who started the flow) -> 200 the flow; 409 when the interface's groups do
  not let it start; 404 for an unknown instance or interface; 400 otherwise;
* ``GET /moto-api/irlab/ec2/flows?region=&instanceId=&networkInterfaceId=`` ->
  ``{"flows": [{"flowId", "networkInterfaceId", "instanceId", "protocol",
  "remoteIp", "remotePort", "localPort", "direction", "tracked", "state":
  "alive"|"dropped", "reason", "openedAt", "droppedAt", "history"}]}``
  (``history``: what happened to the flow, oldest first);
* ``POST /moto-api/irlab/ec2/flows/idle`` ``{"flowId", "seconds"}`` -> 200 the flow;
* ``POST /moto-api/reset`` forgets every flow.

Not modelled: network ACLs (stateless: a deny in either direction breaks
existing connections), security-group references and prefix lists as the
source of an "all traffic" rule (they never make a flow untracked, as the page
names only the two CIDRs), per-interface timeout settings.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

PROTOCOLS = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "-1": "-1", "all": "-1"}
IDLE_TIMEOUT_S = {"6": 432000, "17": 30, "1": 30, "58": 30}
OTHER_IDLE_TIMEOUT_S = 600
ALL_V4, ALL_V6 = "0.0.0.0/0", "::/0"

_lock = threading.RLock()


@dataclass
class Flow:
    flow_id: str
    account: str
    region: str
    eni_id: str
    instance_id: str | None
    protocol: str  # protocol number as text ("6")
    remote_ip: str
    remote_port: int | None
    local_port: int | None
    direction: str  # inbound | outbound: who started it
    tracked: bool
    opened_at: datetime.datetime
    state: str = "alive"
    reason: str = ""
    dropped_at: datetime.datetime | None = None
    history: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        name = {v: k for k, v in PROTOCOLS.items() if k not in ("-1", "all")}.get(self.protocol, self.protocol)
        return {
            "flowId": self.flow_id,
            "networkInterfaceId": self.eni_id,
            "instanceId": self.instance_id,
            "protocol": name,
            "remoteIp": self.remote_ip,
            "remotePort": self.remote_port,
            "localPort": self.local_port,
            "direction": self.direction,
            "tracked": self.tracked,
            "state": self.state,
            "reason": self.reason,
            "openedAt": _iso(self.opened_at),
            "droppedAt": _iso(self.dropped_at) if self.dropped_at else None,
            "history": list(self.history),
        }


_flows: dict[str, Flow] = {}


class FlowError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def protocol_number(value: Any) -> str:
    text = str(value).strip().lower()
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise FlowError(400, f"unknown protocol {value!r}")


# --------------------------------------------------------------------------
# rules


def _rule_protocol(rule: Any) -> str:
    proto = str(rule.ip_protocol or "-1").lower()
    return PROTOCOLS.get(proto, proto)


def _rule_cidr(rule: Any, v6: bool) -> str | None:
    ip_range = rule.ip_range or {}
    return ip_range.get("CidrIpv6") if v6 else ip_range.get("CidrIp")


def _rule_ports_cover(rule: Any, protocol: str, port: int | None) -> bool:
    """Whether the rule's port range covers ``port`` (ICMP: type ``port``)."""
    if _rule_protocol(rule) == "-1" or protocol not in ("6", "17", "1", "58"):
        return True
    low, high = rule.from_port, rule.to_port
    if protocol in ("1", "58"):
        return low in (None, -1) or port is None or low == port
    if low is None or low == -1:
        return True
    return port is not None and int(low) <= port <= int(high)


def _rule_allows(rule: Any, protocol: str, port: int | None, remote: Any) -> bool:
    if _rule_protocol(rule) not in ("-1", protocol):
        return False
    cidr = _rule_cidr(rule, remote.version == 6)
    if not cidr:
        return False  # a security-group reference or a prefix list: not the remote host here
    try:
        if remote not in ipaddress.ip_network(cidr, strict=False):
            return False
    except ValueError:
        return False
    return _rule_ports_cover(rule, protocol, port)


def _all_ports(rule: Any, protocol: str) -> bool:
    if _rule_protocol(rule) == "-1":
        return True
    if _rule_protocol(rule) != protocol:
        return False
    return rule.from_port in (None, -1) or (int(rule.from_port) <= 0 and int(rule.to_port) >= 65535)


def _rules(eni: Any) -> tuple[list[Any], list[Any]]:
    ingress, egress = [], []
    for group in list(eni.group_set or []):
        ingress.extend(group.ingress_rules)
        egress.extend(group.egress_rules)
    return ingress, egress


def _directions(flow: Flow, ingress: list[Any], egress: list[Any]) -> tuple[list[Any], int | None, list[Any]]:
    """(rules the starting packet needs, its port, rules the response packets need)."""
    if flow.direction == "inbound":
        return ingress, flow.local_port, egress
    return egress, flow.remote_port, ingress


def may_start(flow: Flow, eni: Any) -> bool:
    ingress, egress = _rules(eni)
    starting, port, _ = _directions(flow, ingress, egress)
    remote = ipaddress.ip_address(flow.remote_ip)
    return any(_rule_allows(r, flow.protocol, port, remote) for r in starting)


def untracked(flow: Flow, eni: Any, backend: Any) -> bool:
    """Whether the interface's rules leave the flow untracked (module doc)."""
    if flow.protocol not in ("6", "17"):
        return False
    if _automatically_tracked(flow, eni, backend):
        return False
    remote = ipaddress.ip_address(flow.remote_ip)
    everyone = ALL_V6 if remote.version == 6 else ALL_V4
    ingress, egress = _rules(eni)
    starting, port, response = _directions(flow, ingress, egress)
    opens = any(_rule_cidr(r, remote.version == 6) == everyone and _rule_allows(r, flow.protocol, port, remote) for r in starting)
    answers = any(_rule_cidr(r, remote.version == 6) == everyone and _all_ports(r, flow.protocol) for r in response)
    return opens and answers


def _automatically_tracked(flow: Flow, eni: Any, backend: Any) -> bool:
    """A flow routed through a NAT gateway or a transit gateway (the subnet's
    route table, longest prefix) is tracked whatever the rules."""
    subnet = getattr(eni, "subnet", None)
    if subnet is None:
        return False
    remote = ipaddress.ip_address(flow.remote_ip)
    chosen = None
    main = None
    for table in list(backend.route_tables.values()):
        if table.vpc_id != subnet.vpc_id:
            continue
        if subnet.id in table._associations.values():
            chosen = table
            break
        if table.main_association_id is not None:
            main = table
    table = chosen or main
    if table is None:
        return False
    best, best_len = None, -1
    for route in table.routes:
        cidr = route.destination_ipv6_cidr_block if remote.version == 6 else route.destination_cidr_block
        if not cidr:
            continue
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        if remote in network and network.prefixlen > best_len:
            best, best_len = route, network.prefixlen
    return best is not None and (best.nat_gateway is not None or best.transit_gateway is not None)


# --------------------------------------------------------------------------
# judging


def _backend(account: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _eni(backend: Any, eni_id: str) -> Any | None:
    try:
        return backend.get_network_interface(eni_id)
    except Exception:  # noqa: BLE001 - deleted
        return None


def _drop(flow: Flow, reason: str) -> None:
    flow.state, flow.reason, flow.dropped_at = "dropped", reason, _now()
    flow.history.append(f"dropped: {reason}")


def _judge(flow: Flow, backend: Any) -> None:
    eni = _eni(backend, flow.eni_id)
    if eni is None:
        _drop(flow, "the network interface no longer exists")
        return
    instance = getattr(eni, "instance", None)
    if instance is not None and instance._state.name != "running":
        _drop(flow, f"the instance is {instance._state.name}")
        return
    if untracked(flow, eni, backend):
        if flow.tracked:
            flow.tracked = False
            flow.history.append("untracked: the rules now allow all traffic both ways")
        return
    if flow.tracked:
        return  # a tracked flow outlives the rules that let it start
    if may_start(flow, eni):
        flow.tracked = True
        flow.history.append("tracked: the rules still allow it, no longer for all traffic")
        return
    _drop(flow, "untracked, and the security groups no longer allow it")


def reevaluate(account: str, region: str) -> None:
    """Judge every live flow of the account and Region against the groups and
    rules its interface has now."""
    with _lock:
        flows = [f for f in _flows.values() if f.account == account and f.region == region and f.state == "alive"]
        if not flows:
            return
        backend = _backend(account, region)
        for flow in flows:
            _judge(flow, backend)


def _primary_eni(backend: Any, instance_id: str) -> Any:
    instance = next((i for i in backend.all_instances() if i.id == instance_id), None)
    if instance is None:
        raise FlowError(404, f"The instance ID '{instance_id}' does not exist")
    nic = (getattr(instance, "nics", None) or {}).get(0)
    if nic is None:
        raise FlowError(404, f"the instance {instance_id} has no primary network interface")
    return nic


def _port(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise FlowError(400, f'"{key}" must be a port number (0-65535)')
    return value


def open_flow(account: str, body: dict[str, Any]) -> Flow:
    region = str(body.get("region") or "us-east-1")
    backend = _backend(account, region)
    direction = body.get("direction")
    if direction not in ("inbound", "outbound"):
        raise FlowError(400, '"direction" must be "inbound" or "outbound"')
    try:
        remote = ipaddress.ip_address(str(body.get("remoteIp") or ""))
    except ValueError as exc:
        raise FlowError(400, '"remoteIp" must be an IPv4 or IPv6 address') from exc
    protocol = protocol_number(body.get("protocol", "tcp"))
    if protocol == "-1":
        raise FlowError(400, "a flow has one protocol")
    local_port, remote_port = _port(body, "localPort"), _port(body, "remotePort")
    if protocol in ("6", "17") and (direction == "inbound" and local_port is None or direction == "outbound" and remote_port is None):
        raise FlowError(400, "a TCP or UDP flow needs the port it was opened to (localPort inbound, remotePort outbound)")
    with _lock:
        reevaluate(account, region)
        if body.get("networkInterfaceId"):
            eni = _eni(backend, str(body["networkInterfaceId"]))
            if eni is None:
                raise FlowError(404, f"The networkInterface ID '{body['networkInterfaceId']}' does not exist")
        elif body.get("instanceId"):
            eni = _primary_eni(backend, str(body["instanceId"]))
        else:
            raise FlowError(400, '"instanceId" or "networkInterfaceId" is required')
        instance = getattr(eni, "instance", None)
        if instance is not None and instance._state.name != "running":
            raise FlowError(409, f"the instance {instance.id} is {instance._state.name}")
        flow = Flow(
            flow_id=f"flow-{uuid.uuid4().hex[:12]}",
            account=account,
            region=region,
            eni_id=eni.id,
            instance_id=instance.id if instance is not None else None,
            protocol=protocol,
            remote_ip=str(remote),
            remote_port=remote_port,
            local_port=local_port,
            direction=direction,
            tracked=True,
            opened_at=_now(),
        )
        if not may_start(flow, eni):
            raise FlowError(409, f"the security groups of {eni.id} do not allow this {direction} flow to start")
        flow.tracked = not untracked(flow, eni, backend)
        flow.history.append("opened, " + ("tracked" if flow.tracked else "untracked"))
        _flows[flow.flow_id] = flow
        return flow


def idle(account: str, body: dict[str, Any]) -> Flow:
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise FlowError(400, '"seconds" must be a number >= 0')
    with _lock:
        flow = _flows.get(str(body.get("flowId")))
        if flow is None or flow.account != account:
            raise FlowError(404, f"no flow {body.get('flowId')!r}")
        reevaluate(flow.account, flow.region)
        if flow.state != "alive":
            return flow
        timeout = IDLE_TIMEOUT_S.get(flow.protocol, OTHER_IDLE_TIMEOUT_S)
        if not flow.tracked or seconds < timeout:
            flow.history.append(f"idle {seconds:g} s")
            return flow
        # the tracking entry timed out: the next packet is judged as a new flow
        backend = _backend(flow.account, flow.region)
        eni = _eni(backend, flow.eni_id)
        if eni is None or not may_start(flow, eni):
            _drop(flow, f"idle {seconds:g} s past the {timeout} s tracking timeout, and the security groups no longer allow it")
            return flow
        flow.tracked = not untracked(flow, eni, backend)
        flow.history.append(f"idle {seconds:g} s past the tracking timeout; allowed again, " + ("tracked" if flow.tracked else "untracked"))
        return flow


def flows(account: str, region: str, instance_id: str | None = None, eni_id: str | None = None) -> list[Flow]:
    with _lock:
        reevaluate(account, region)
        return [
            f
            for f in _flows.values()
            if f.account == account
            and f.region == region
            and (not instance_id or f.instance_id == instance_id)
            and (not eni_id or f.eni_id == eni_id)
        ]


# --------------------------------------------------------------------------
# wiring


def _body(request: Any, headers: Any) -> dict[str, Any]:
    length = int(headers.get("Content-Length") or 0)
    body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _flows_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    from moto.core import DEFAULT_ACCOUNT_ID

    json_headers = {"Content-Type": "application/json"}
    account = headers.get("x-moto-account-id") or DEFAULT_ACCOUNT_ID
    try:
        if request.method == "GET":
            query = parse_qs(urlparse(full_url).query)
            found = flows(
                account,
                (query.get("region") or ["us-east-1"])[0],
                (query.get("instanceId") or [None])[0],
                (query.get("networkInterfaceId") or [None])[0],
            )
            return 200, json_headers, json.dumps({"flows": [f.view() for f in found]})
        if request.method != "POST":
            return 405, json_headers, json.dumps({"message": "use GET or POST"})
        try:
            body = _body(request, headers)
        except (TypeError, ValueError) as exc:
            return 400, json_headers, json.dumps({"message": f"malformed JSON body: {exc}"})
        flow = idle(account, body) if urlparse(full_url).path.endswith("/idle") else open_flow(account, body)
        return 200, json_headers, json.dumps(flow.view())
    except FlowError as exc:
        return exc.status, json_headers, json.dumps({"message": exc.message})


def _after_ec2_requests() -> None:
    from moto.core.responses import BaseResponse
    from moto.ec2.responses import EC2Response

    if getattr(EC2Response.__dict__.get("call_action"), "_irlab", False):
        return
    original = EC2Response.__dict__.get("call_action") or BaseResponse.call_action

    def call_action(self: Any) -> Any:
        try:
            return original(self)
        finally:
            if _flows:
                try:
                    reevaluate(self.current_account, self.region)
                except Exception:  # noqa: BLE001 - never fail the EC2 request for the model
                    import logging

                    logging.getLogger("irlab_emulator.ec2").exception("connection tracking: re-evaluation failed")

    call_action._irlab = True  # type: ignore[attr-defined]
    EC2Response.call_action = call_action  # type: ignore[method-assign]


def apply() -> None:
    from moto.moto_api._internal import urls as moto_api_urls
    from moto.moto_api._internal.models import MotoAPIBackend

    moto_api_urls.url_paths["{0}/moto-api/irlab/ec2/flows"] = _flows_response
    moto_api_urls.url_paths["{0}/moto-api/irlab/ec2/flows/idle"] = _flows_response
    _after_ec2_requests()
    if getattr(MotoAPIBackend.reset, "_irlab_conntrack", False):
        return
    original_reset = MotoAPIBackend.reset

    def reset(self: Any) -> None:
        with _lock:
            _flows.clear()
        original_reset(self)

    reset._irlab_conntrack = True  # type: ignore[attr-defined]
    MotoAPIBackend.reset = reset  # type: ignore[method-assign]
