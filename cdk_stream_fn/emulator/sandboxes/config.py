"""What the emulator needs to know about one function, and the environment its runtime starts with."""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stream_fn.sys_path import LAYER_PYTHON_VARIABLE

from cdk_stream_fn.emulator import limits

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cdk_stream_fn.platform_roots.launch import PlatformRoot

#: Host variables a runtime keeps: what it needs to start (PATH, HOME, locale, temp dir) and the
#: developer's AWS credentials, which stand in for the execution role as `sam local` does.
PASSTHROUGH_VARIABLES = (
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "SYSTEMROOT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)

#: `AWS_LAMBDA_INITIALIZATION_TYPE` of a runtime started for SnapStart (RAPID's `InitCaching`,
#: `telemetry.InitTypeInitCaching`; awslambdaric's `INIT_TYPE_SNAP_START`).
SNAP_START_INITIALIZATION = "snap-start"
#: `PerExecutionEnvironmentMaxConcurrency`'s range (`AWS::Lambda::Function`
#: `LambdaManagedInstancesCapacityProviderConfig`: Minimum 1, Maximum 1600).
MAX_PER_ENVIRONMENT_CONCURRENCY = 1600
#: The version an unqualified invocation of a Managed Instances function runs.
LATEST_PUBLISHED_VERSION = "$LATEST.PUBLISHED"

#: Variables of the deployed function that only mean something on Lambda: the exec wrapper is
#: `/opt/stream-fn` from the runtime layer; locally the emulator starts the runtime itself.
PLATFORM_ONLY_VARIABLES = frozenset({"AWS_LAMBDA_EXEC_WRAPPER"})


@dataclass(frozen=True)
class CorsSettings:
    """A function URL's CORS configuration (`AWS::Lambda::Url` `Cors`; the Lambda API's `Cors` type):
    which origins, methods and headers browsers may use, which response headers they may read, how long
    they may cache a preflight answer, and whether they may send cookies."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


def default_runtime_command() -> list[str]:
    """This project's runtime, on the interpreter running the emulator (where `stream_fn` is installed)."""
    return [sys.executable, "-m", "stream_fn"]


@dataclass(frozen=True)
class FunctionConfig:
    """One function to serve: its code, handler, settings and how to start its runtime.

    `runtime_command` replaces `python -m stream_fn` (e.g. `python -m awslambdaric` or Node's
    `aws-lambda-ric`); the handler is appended to it as the last argument, which is how those runtime
    clients take it, unless the command contains `{handler}`.

    `platform` runs the runtime in a platform root (Lambda's interpreter and architecture, the runtime
    layer on /opt, the code on /var/task) started by the root's `/var/runtime/bootstrap`, or
    `runtime_command` inside the root when both are given.

    `interpreter`, `dependencies` and `runtime_path` describe a runtime on this machine as `serve` prepares
    it: another Python than the emulator's, the function's own dependencies, and only what Lambda's
    runtime would give the code (see `runtime_launch`).
    """

    name: str
    handler: str
    code_dir: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = limits.DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = limits.DEFAULT_MEMORY_MB
    runtime_command: Sequence[str] | None = None
    runtime: str | None = None
    region: str = "us-east-1"
    log_format: str = "Text"
    log_level: str | None = None
    auth_type: str = "NONE"
    invoke_mode: str = "RESPONSE_STREAM"
    has_url: bool = True
    #: The URL's CORS configuration; None: no CORS headers are added and OPTIONS reaches the function.
    cors: CorsSettings | None = None
    #: `ReservedConcurrentExecutions`: more invocations at once are throttled (429); None: no limit.
    reserved_concurrency: int | None = None
    #: Lambda Managed Instances: how many invocations one execution environment (one runtime process)
    #: takes at once, the function's `PerExecutionEnvironmentMaxConcurrency`; None: on-demand, one at a time.
    per_environment_concurrency: int | None = None
    #: End a runtime whose process group's resident memory passes `memory_mb` (`Runtime.OutOfMemory`).
    enforce_memory: bool = True
    #: Other names the Lambda API accepts for this function (logical id, construct path, construct id).
    aliases: tuple[str, ...] = ()
    construct_path: str | None = None
    #: SnapStart (`SnapStart: {ApplyOn: PublishedVersions}`): the runtime starts with the `snap-start` init
    #: type, and its init ends in a snapshot restored for the first invocation (`sandboxes.snap_start`).
    snap_start: bool = False
    platform: PlatformRoot | None = None
    #: The Python that runs `-m stream_fn` without a `runtime_command` (None: the emulator's own).
    interpreter: str | None = None
    #: The function's dependencies, installed for the Python that runs it, laid out as a layer's `python/`
    #: directory (in `lib/pythonX.Y/site-packages`): after the code on `sys.path`, where Lambda puts a layer's.
    dependencies: Path | None = None
    #: A directory with stream_fn and what Lambda's Python runtime provides (boto3, snapshot_restore_py):
    #: with it, the runtime starts without its interpreter's site-packages (`python -S`), so the code sees
    #: what it would see on Lambda, not what happens to be installed here (in a platform root, these are
    #: mounted in `/opt/python`).
    runtime_path: Path | None = None
    #: Why the function cannot run here (say, a dependency that cannot be installed for this machine):
    #: every invocation then fails with `Local.FunctionUnavailable` and this message. None: it runs.
    unavailable: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{limits.ACCOUNT_ID}:function:{self.name}"

    @property
    def init_timeout_seconds(self) -> float:
        """How long the runtime may take to initialize: Lambda's 10 s, stretched for a root that runs
        through qemu (10 to 30 times slower), where importing a framework alone can take longer."""
        factor = 1.0 if self.platform is None else self.platform.init_timeout_factor
        return limits.INIT_TIMEOUT_SECONDS * factor

    def problems(self) -> list[str]:
        """Everything wrong with this configuration, each naming the setting and how to fix it."""
        found = []
        if not self.handler or "." not in self.handler:
            found.append(f"{self.name}: handler must look like module.function, got {self.handler!r}")
        if not self.code_dir.is_dir():
            found.append(f"{self.name}: code directory {self.code_dir} does not exist")
        if not 1 <= self.timeout_seconds <= 900:
            found.append(
                f"{self.name}: timeout must be between 1 and 900 seconds, got {self.timeout_seconds}"
            )
        if not 128 <= self.memory_mb <= 10240:
            found.append(f"{self.name}: memory must be between 128 and 10240 MiB, got {self.memory_mb}")
        concurrency = self.per_environment_concurrency
        if concurrency is not None and not 1 <= concurrency <= MAX_PER_ENVIRONMENT_CONCURRENCY:
            found.append(
                f"{self.name}: per-environment concurrency (PerExecutionEnvironmentMaxConcurrency) must be "
                f"between 1 and {MAX_PER_ENVIRONMENT_CONCURRENCY}, got {concurrency}"
            )
        if self.reserved_concurrency is not None and self.reserved_concurrency < 0:
            found.append(
                f"{self.name}: reserved concurrency must be 0 or more, got {self.reserved_concurrency}"
            )
        return found

    def command(self) -> list[str]:
        """The runtime's argv."""
        if self.runtime_command is None:
            if self.interpreter is None and self.runtime_path is None:
                return default_runtime_command()
            isolated = ["-S"] if self.runtime_path is not None else []
            return [self.interpreter or sys.executable, *isolated, "-m", "stream_fn"]
        if any("{handler}" in part for part in self.runtime_command):
            return [part.replace("{handler}", self.handler) for part in self.runtime_command]
        return [*self.runtime_command, self.handler]

    @property
    def managed_instances(self) -> bool:
        """True for a function on Lambda Managed Instances (several invocations per environment)."""
        return self.per_environment_concurrency is not None

    def execution_env(self) -> str:
        if self.platform is not None:
            return f"AWS_Lambda_{self.platform.platform.runtime}"
        runtime = self.runtime or f"python{sys.version_info.major}.{sys.version_info.minor}"
        return f"AWS_Lambda_{runtime}"


@dataclass(frozen=True)
class RuntimeLaunch:
    """How a sandbox starts its runtime process: argv, environment and working directory."""

    command: list[str]
    environment: dict[str, str]
    cwd: Path


def runtime_launch(
    config: FunctionConfig, runtime_api: str, *, extra_environment: Mapping[str, str] | None = None
) -> RuntimeLaunch:
    """The runtime process for `config`, on this machine or, with `config.platform`, in its root;
    `extra_environment` is what the sandbox adds to Lambda's variables (a Managed Instances log socket)."""
    environment = {**lambda_environment(config, runtime_api), **(extra_environment or {})}
    if config.platform is None:
        environment.update(python_path_environment(config))
        return RuntimeLaunch(config.command(), environment, config.code_dir)
    command, environment, cwd = config.platform.launch(
        environment,
        code_dir=config.code_dir,
        function_environment=config.environment,
        command=None if config.runtime_command is None else config.command(),
        dependencies=config.dependencies,
        provided=config.runtime_path,
    )
    return RuntimeLaunch(command, environment, cwd)


def python_path_environment(config: FunctionConfig) -> dict[str, str]:
    """`PYTHONPATH` for a runtime on this machine: the function's dependencies, then `runtime_path`.

    The dependencies directory is handed to stream_fn as its layer (the variable `wrapper.sh` sets), so
    `stream_fn.sys_path` puts it where Lambda puts `/opt/python` and its site-packages, after the code
    (the function's own modules win over a dependency's, as in Lambda's `/var/task`), and reads its
    `.pth` files. A function that sets its own `PYTHONPATH` keeps it, after these; Lambda then adds no
    layer directories, so neither does stream_fn, and the dependencies stay on the path as plain entries.
    """
    paths = [str(path) for path in (config.dependencies, config.runtime_path) if path is not None]
    if not paths:
        return {}
    own = config.environment.get("PYTHONPATH")
    variables = {"PYTHONPATH": os.pathsep.join([*paths, *([own] if own else [])])}
    if config.runtime_command is None and not own:
        variables[LAYER_PYTHON_VARIABLE] = paths[0]
    return variables


def log_stream_name() -> str:
    """A log stream name in Lambda's format: `YYYY/MM/DD/[$LATEST]<32 hex>`."""
    return time.strftime("%Y/%m/%d/") + f"[{limits.FUNCTION_VERSION}]{secrets.token_hex(16)}"


def lambda_environment(
    config: FunctionConfig,
    runtime_api: str,
    *,
    host_environment: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The runtime process's environment: a few host variables, the function's own, Lambda's on top.

    Lambda's variables win over the function's, as on Lambda where they are reserved.
    """
    host = os.environ if host_environment is None else host_environment
    environment = {name: host[name] for name in PASSTHROUGH_VARIABLES if name in host}
    environment["PYTHONUNBUFFERED"] = "1"
    environment.update(
        (name, value) for name, value in config.environment.items() if name not in PLATFORM_ONLY_VARIABLES
    )
    environment.update(
        {
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "_HANDLER": config.handler,
            "LAMBDA_TASK_ROOT": str(config.code_dir.resolve()),
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_VERSION": limits.FUNCTION_VERSION,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name(),
            "AWS_LAMBDA_INITIALIZATION_TYPE": SNAP_START_INITIALIZATION if config.snap_start else "on-demand",
            "AWS_LAMBDA_LOG_FORMAT": config.log_format,
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_EXECUTION_ENV": config.execution_env(),
            "TZ": ":UTC",
        }
    )
    if config.log_level:
        environment["AWS_LAMBDA_LOG_LEVEL"] = config.log_level
    if config.per_environment_concurrency is not None:
        environment.update(managed_instances_environment(config.per_environment_concurrency))
    return environment


def managed_instances_environment(concurrency: int) -> dict[str, str]:
    """What Lambda Managed Instances set for the runtime, on top of the on-demand variables.

    `AWS_LAMBDA_MAX_CONCURRENCY` (the stock client runs concurrently when it is set: awslambdaric 4.x
    `lambda_config.py`) and `AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances` are what LocalStack
    sets for such functions (`services/lambda_/invocation/execution_environment.py`, `lambda_models.py`
    `InitializationType`). The log format is JSON: "Functions using Lambda Managed Instances always use the
    structured JSON log format" (AWS Lambda Developer Guide, "Python runtime for Lambda Managed Instances").
    The version is `$LATEST.PUBLISHED`, the one an unqualified invocation runs ("$LATEST.PUBLISHED version in
    Lambda Managed Instances"); that `AWS_LAMBDA_FUNCTION_VERSION` then holds it is inferred, not documented.
    """
    return {
        "AWS_LAMBDA_INITIALIZATION_TYPE": "lambda-managed-instances",
        "AWS_LAMBDA_MAX_CONCURRENCY": str(concurrency),
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_FUNCTION_VERSION": LATEST_PUBLISHED_VERSION,
    }
