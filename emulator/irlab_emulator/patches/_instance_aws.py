"""The AWS CLI on a stand-in instance: ``aws`` in the Run Command sandbox,
answered by the stand-in as the instance role.

On Amazon Linux 2023 the AWS CLI v2 is installed, and a script run by the SSM
Agent finds the instance profile's credentials through IMDS (the CLI's
credential chain ends with the instance metadata; "Configuration and
credential file settings" / "Using an IAM role",
https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-role.html and
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html).
Without a profile there are none: the CLI says "Unable to locate credentials"
and exits 253 ("The system environment or configuration was invalid ...
missing configuration or credentials", "Command line return codes",
https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html);
a service error exits 254 with "An error occurred (CODE) when calling the OP
operation: MESSAGE"; a failed ``aws s3 cp`` prints "upload failed: SRC to
s3://B/K ERROR" and exits 1.

The sandbox has no network, so its ``aws`` (``instance/bin/aws``, a small
Python client of the host's ``/usr/bin/python3``) cannot reach the stand-in
over TCP.  Instead the stand-in serves, for each invocation, a unix socket
``/run/irlab/aws.sock`` (the invocation's run directory, bind-mounted
read-only into the sandbox: connecting to a socket needs no write access to
the file system that holds it).  The stub sends its arguments, the
``AWS_*`` variables it sees and the bytes of the files it was asked to upload
(read inside the sandbox, so paths resolve as the script sees them), and waits:
the call is synchronous, as the CLI's is.  The stand-in issues the instance's
IMDS credentials (``ec2_imds.issue``: a session of the profile's role named
after the instance, with its ``ec2:SourceInstanceARN`` keys) and makes the S3
request with them against itself, so IAM and the bucket policy judge it as
they judge the real instance role.

Modelled: ``aws s3api put-object --bucket B --key K [--body FILE]
[--checksum-algorithm ALG] [--content-type T]`` (stdout: the response as the
CLI prints it, JSON with four-space indents) and ``aws s3 cp FILE s3://B/K
[--checksum-algorithm ALG]`` ("upload: FILE to s3://B/K"); ``aws s3api
get-object --bucket B --key K [--version-id V] OUTFILE`` (stdout: the response
without its body, which the stub writes to OUTFILE inside the sandbox; a
service error exits 254 as above, "An error occurred (NoSuchKey) when calling
the GetObject operation: ...", and OUTFILE is not written); global
``--region``, ``--output json``, ``--no-cli-pager``.  Anything else exits 255
with "irlab stand-in: aws ... is not modelled".  Not modelled: the CLI's region
redirect (S3 requests go to the stand-in whatever the region), and that after
isolation the real instance reaches neither S3 nor SSM without VPC endpoints
(the sandbox's aws always reaches the stand-in; the SSM Agent's loss of its
channel is not modelled either).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("irlab_emulator.ssm")

SOCKET_NAME = "aws.sock"
CLI_USER_AGENT = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64.amzn.2023 prompt/off"
NO_CREDENTIALS = 'Unable to locate credentials. You can configure credentials by running "aws configure".'
MAX_REQUEST = 64 * 1024 * 1024


class Bridge:
    """A unix socket in ``run_dir`` answering the sandbox's ``aws`` for one
    instance while one invocation runs."""

    def __init__(self, run_dir: Path, account: str, region: str, instance_id: str):
        self.account, self.region, self.instance_id = account, region, instance_id
        self.path = run_dir / SOCKET_NAME
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        os.chmod(self.path, 0o777)  # the sandbox's root may be another host user
        self.sock.listen(8)
        self.closed = False
        self.thread = threading.Thread(target=self._serve, daemon=True, name="irlab-instance-aws")
        self.thread.start()

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _serve(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True, name="irlab-instance-aws-call").start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                data = b""
                while len(data) <= MAX_REQUEST:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                request = json.loads(data or b"{}")
                code, out, err, *written = run_cli(self.account, self.region, self.instance_id, request)
            except Exception as exc:  # noqa: BLE001 - the stub must get an answer
                log.exception("the instance's aws call failed in the stand-in")
                code, out, err, written = 255, "", f"\nirlab stand-in: {exc}\n", []
            answer = {"code": code, "stdout": out, "stderr": err}
            if written:
                answer["write"] = written[0]
            try:
                conn.sendall(json.dumps(answer).encode())
            except OSError:  # the stub is gone: its script was ended (timeoutSeconds, a cancel)
                log.info("the instance's aws stub left before its answer")


# --------------------------------------------------------------------------
# the CLI's behaviour


class Usage(Exception):
    pass


def _options(args: list[str], flags: tuple[str, ...] = ()) -> tuple[dict[str, str], list[str]]:
    """``--name value`` pairs (``--name=value`` too) and the positional
    arguments; names in ``flags`` take no value."""
    options: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name in flags:
                options[name] = "true"
            elif eq:
                options[name] = value
            elif i + 1 < len(args):
                options[name] = args[i + 1]
                i += 1
            else:
                raise Usage(f"argument --{name}: expected one argument")
        else:
            positional.append(arg)
        i += 1
    return options, positional


GLOBAL_FLAGS = ("no-cli-pager", "debug", "no-verify-ssl", "no-paginate", "no-sign-request")


def _client(account: str, region: str, instance_id: str) -> Any:
    """An S3 client with the instance's IMDS credentials, or None without
    them."""
    from . import _local, ec2_imds

    try:
        document = ec2_imds.issue(account, region, instance_id)
    except ec2_imds.NoCredentials:
        return None
    import datetime

    credentials = _local.Credentials(
        document["AccessKeyId"],
        document["SecretAccessKey"],
        document["Token"],
        datetime.datetime.fromisoformat(document["Expiration"].replace("Z", "+00:00")),
        "",
        "",
    )
    return _local.client(
        "s3", region, account_id=account, credentials=credentials, s3={"addressing_style": "path"}, user_agent=CLI_USER_AGENT
    )


def _service_error(exc: Exception, operation: str) -> str:
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error") or {}
    code = error.get("Code") or "Unknown"
    message = error.get("Message") or str(exc)
    return f"An error occurred ({code}) when calling the {operation} operation: {message}"


def _upload(client: Any, bucket: str, key: str, body: bytes, options: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
    if options.get("checksum-algorithm"):
        params["ChecksumAlgorithm"] = options["checksum-algorithm"].upper()
    if options.get("content-type"):
        params["ContentType"] = options["content-type"]
    result = client.put_object(**params)
    result.pop("ResponseMetadata", None)
    return result


def run_cli(account: str, region: str, instance_id: str, request: dict[str, Any]) -> tuple[Any, ...]:
    """(exit code, stdout, stderr) of ``aws ARGS`` on the instance, and for a
    download a fourth member: {path: base64 bytes} that the stub writes."""
    from botocore.exceptions import ClientError

    argv = [str(a) for a in request.get("argv") or []]
    files = request.get("files") or {}
    env = request.get("env") or {}
    try:
        options, positional = _options(argv, GLOBAL_FLAGS)
    except Usage as exc:
        return 252, "", f"\nusage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\naws: error: {exc}\n"
    region = options.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or region
    command = positional[:2]

    def body_of(path: str) -> bytes | None:
        encoded = files.get(path)
        return None if encoded is None else base64.b64decode(encoded)

    if command == ["s3api", "put-object"]:
        if not options.get("bucket") or not options.get("key"):
            missing = [f"--{n}" for n in ("bucket", "key") if not options.get(n)]
            return 252, "", (
                "\nusage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\n"
                f"aws: error: the following arguments are required: {', '.join(missing)}\n"
            )
        body = b""
        if options.get("body"):
            read = body_of(options["body"])
            if read is None:
                return 252, "", "\nError parsing parameter '--body': Blob values must be a path to a file.\n"
            body = read
        client = _client(account, region, instance_id)
        if client is None:
            return 253, "", f"\n{NO_CREDENTIALS}\n"
        try:
            result = _upload(client, options["bucket"], options["key"], body, options)
        except ClientError as exc:
            return 254, "", f"\n{_service_error(exc, 'PutObject')}\n"
        return 0, json.dumps(result, indent=4, default=str) + "\n", ""

    if command == ["s3", "cp"] and len(positional) == 4 and positional[3].startswith("s3://") and not positional[2].startswith("s3://"):
        source, target = positional[2], positional[3]
        bucket, _, key = target[len("s3://") :].partition("/")
        if not key or key.endswith("/"):
            key = key + os.path.basename(source)
        body = body_of(source)
        if body is None:
            return 255, "", f"\nThe user-provided path {source} does not exist.\n"
        shown = f"s3://{bucket}/{key}"
        client = _client(account, region, instance_id)
        if client is None:
            return 1, "", f"upload failed: {source} to {shown} {NO_CREDENTIALS}\n"
        try:
            _upload(client, bucket, key, body, options)
        except ClientError as exc:
            return 1, "", f"upload failed: {source} to {shown} {_service_error(exc, 'PutObject')}\n"
        return 0, f"upload: {source} to {shown}\n", ""

    if command == ["s3api", "get-object"]:
        missing = [f"--{n}" for n in ("bucket", "key") if not options.get(n)] + (["outfile"] if len(positional) < 3 else [])
        if missing:
            return 252, "", (
                "\nusage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\n"
                f"aws: error: the following arguments are required: {', '.join(missing)}\n"
            )
        client = _client(account, region, instance_id)
        if client is None:
            return 253, "", f"\n{NO_CREDENTIALS}\n"
        params: dict[str, Any] = {"Bucket": options["bucket"], "Key": options["key"]}
        if options.get("version-id"):
            params["VersionId"] = options["version-id"]
        try:
            result = client.get_object(**params)
        except ClientError as exc:
            return 254, "", f"\n{_service_error(exc, 'GetObject')}\n"
        body = result.pop("Body").read()
        result.pop("ResponseMetadata", None)
        # the stub writes OUTFILE inside the sandbox, where its path resolves as the script sees it
        return 0, json.dumps(result, indent=4, default=str) + "\n", "", {positional[2]: base64.b64encode(body).decode()}

    shown = " ".join(positional[:2]) or "(nothing)"
    return 255, "", f"\nirlab stand-in: aws {shown} is not modelled (only s3api put-object, s3api get-object and s3 cp FILE s3://...)\n"
