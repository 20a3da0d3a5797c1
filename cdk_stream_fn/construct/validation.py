"""Eager checks of StreamingFunction props: every problem at once, each naming its Python keyword.

Each check returns a list of messages shaped `<keyword> must ..., got <value>`; the construct raises
one ValueError listing them all. Values that are unresolved tokens are skipped: they are only known
at deploy time.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

from ..contract import STREAM_METRICS_VARIABLE, STREAMED_RESPONSE_LIMIT_MB
from .options import MAX_ORIGIN_READ_TIMEOUT_SECONDS, CloudFrontOptions

if TYPE_CHECKING:
    from .alarms import AlarmThresholds

MIN_MEMORY_MIB = 128
MAX_MEMORY_MIB = 10240
MAX_TIMEOUT_SECONDS = 15 * 60
MIN_PYTHON_MINOR = 12
MAX_DESCRIPTION_LENGTH = 256

_HANDLER = re.compile(r"(?P<module>[A-Za-z_]\w*(?:[./][A-Za-z_]\w*)*)\.(?P<function>[A-Za-z_]\w*)")
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENVIRONMENT_KEY = re.compile(r"[A-Za-z]\w*")
_PYTHON_RUNTIME = re.compile(r"python3\.(?P<minor>\d+)")

RESERVED_ENVIRONMENT = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_LAMBDA_EXEC_WRAPPER",
        STREAM_METRICS_VARIABLE,
    }
)
"""Set by Lambda itself, or by StreamingFunction (AWS_LAMBDA_EXEC_WRAPPER runs the stream_fn runtime,
STREAM_FN_METRICS is `stream_metrics`)."""


_TOKEN_MARKERS = ("${Token[", "#{Token[")
_NUMBER_TOKEN_MAGNITUDE = 1e280  # CDK encodes number tokens as huge negative doubles


def is_unresolved(value: object) -> bool:
    """True for a CDK token (a value known only at deploy time).

    A cheap look at the value first, so that plain values cost no call into the jsii kernel.
    """
    if isinstance(value, str):
        looks_like_token = any(marker in value for marker in _TOKEN_MARKERS)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        looks_like_token = abs(value) > _NUMBER_TOKEN_MAGNITUDE
    else:
        return False
    return looks_like_token and cdk.Token.is_unresolved(value)


def _type_name(value: object) -> str:
    return type(value).__name__


def check_entry_and_handler(entry: object, handler: object) -> list[str]:
    """`entry` is an existing directory, `handler` is `module.function` and its module is in it."""
    problems: list[str] = []
    directory: Path | None = None
    if not isinstance(entry, (str, Path)):
        problems.append(
            f"entry must be a directory path (str or pathlib.Path), got {entry!r} ({_type_name(entry)})"
        )
    elif not Path(entry).is_dir():
        what = "is a file" if Path(entry).exists() else "does not exist"
        problems.append(
            f"entry must be the directory that holds the function's code, got {str(entry)!r}, which {what} "
            f"(relative paths are resolved from {Path.cwd()})"
        )
    else:
        directory = Path(entry)
    if not isinstance(handler, str) or not (match := _HANDLER.fullmatch(handler)):
        problems.append(
            f"handler must be 'module.function' or 'package/module.function' (Python identifiers), got {handler!r}"
        )
    elif directory is not None:
        problems.extend(_check_handler_in_entry(directory, match["module"], match["function"], handler))
    return problems


def _check_handler_in_entry(directory: Path, module: str, function: str, handler: str) -> list[str]:
    parts = re.split(r"[./]", module)
    candidates = [directory.joinpath(*parts).with_suffix(".py"), directory.joinpath(*parts, "__init__.py")]
    module_file = next((path for path in candidates if path.is_file()), None)
    if module_file is None:
        shown = " or ".join(str(path.relative_to(directory)) for path in candidates)
        return [f"handler {handler!r} names module {module!r}, but entry {str(directory)!r} has no {shown}"]
    if not _may_define(module_file, function):
        return [
            f"handler {handler!r} names function {function!r}, but {module_file} defines no top-level {function!r}"
        ]
    return []


def _may_define(module_file: Path, name: str) -> bool:
    """Whether the module binds `name` at top level (True when that cannot be told statically)."""
    try:
        tree = ast.parse(module_file.read_bytes(), filename=str(module_file))
    except (SyntaxError, ValueError):
        return True  # the module may use syntax newer than this interpreter; Lambda will judge it
    return name in _top_level_names(tree.body) or "*" in _top_level_names(tree.body)


_BLOCKS = (ast.If, ast.Try, ast.TryStar, ast.With, ast.For, ast.While, ast.Match)
"""Statements whose bodies still run at module level."""


def _top_level_names(statements: Iterable[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in statement.names)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names.update(
                node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)
            )
        elif isinstance(statement, _BLOCKS):
            for block in ("body", "orelse", "finalbody"):
                names |= _top_level_names(getattr(statement, block, []))
            for clause in [*getattr(statement, "handlers", []), *getattr(statement, "cases", [])]:
                names |= _top_level_names(clause.body)
    return names


def python_minor(runtime: lambda_.Runtime) -> int | None:
    """The minor version of a `python3.N` runtime, else None."""
    match = _PYTHON_RUNTIME.fullmatch(runtime.name)
    return int(match["minor"]) if match else None


def check_runtime(runtime: object) -> list[str]:
    allowed = (
        f"a managed Python runtime from python3.{MIN_PYTHON_MINOR} on (e.g. lambda_.Runtime.PYTHON_3_14)"
    )
    if not isinstance(runtime, lambda_.Runtime):
        return [f"runtime must be {allowed}, got {runtime!r} ({_type_name(runtime)})"]
    minor = python_minor(runtime)
    if minor is None or minor < MIN_PYTHON_MINOR:
        return [f"runtime must be {allowed}, got {runtime.name}"]
    return []


def check_architecture(architecture: object) -> list[str]:
    names = {"arm64", "x86_64"}
    if not isinstance(architecture, lambda_.Architecture) or architecture.name not in names:
        shown = architecture.name if isinstance(architecture, lambda_.Architecture) else repr(architecture)
        return [
            f"architecture must be lambda_.Architecture.ARM_64 or lambda_.Architecture.X86_64, got {shown}"
        ]
    return []


def check_memory_size(memory_size: object) -> list[str]:
    if is_unresolved(memory_size):
        return []
    if not isinstance(memory_size, int) or isinstance(memory_size, bool):
        return [f"memory_size must be a whole number of MiB, got {memory_size!r} ({_type_name(memory_size)})"]
    if not MIN_MEMORY_MIB <= memory_size <= MAX_MEMORY_MIB:
        return [f"memory_size must be between {MIN_MEMORY_MIB} and {MAX_MEMORY_MIB} MiB, got {memory_size}"]
    return []


def check_timeout(timeout: object) -> list[str]:
    if not isinstance(timeout, cdk.Duration):
        return [f"timeout must be an aws_cdk.Duration, got {timeout!r} ({_type_name(timeout)})"]
    if timeout.is_unresolved():
        return []
    milliseconds = timeout.to_milliseconds()
    if not 1000 <= milliseconds <= MAX_TIMEOUT_SECONDS * 1000 or milliseconds % 1000:
        return [f"timeout must be whole seconds from 1 second to 15 minutes, got {timeout.to_human_string()}"]
    return []


def check_environment(environment: object) -> list[str]:
    if environment is None:
        return []
    if not isinstance(environment, Mapping):
        return [
            f"environment must be a mapping of str to str, got {environment!r} ({_type_name(environment)})"
        ]
    problems: list[str] = []
    for key, value in environment.items():
        if not isinstance(key, str) or (not is_unresolved(key) and not _ENVIRONMENT_KEY.fullmatch(key)):
            problems.append(
                f"environment keys must be letters, digits and underscores, starting with a letter, got {key!r}"
            )
        elif key == STREAM_METRICS_VARIABLE:
            problems.append(f"environment must not set {key}: pass stream_metrics=True instead")
        elif key in RESERVED_ENVIRONMENT:
            problems.append(f"environment must not set {key}: Lambda or StreamingFunction sets it")
        if not isinstance(value, str):
            problems.append(f"environment[{key!r}] must be a str, got {value!r} ({_type_name(value)})")
    return problems


def check_optional_count(keyword: str, value: object, *, minimum: int) -> list[str]:
    if value is None or is_unresolved(value):
        return []
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        return [f"{keyword} must be a whole number of at least {minimum} (or None), got {value!r}"]
    return []


def check_optional_range(keyword: str, value: object, *, above: float, up_to: float, unit: str) -> list[str]:
    if value is None or is_unresolved(value):
        return []
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not above < value <= up_to:
        return [
            f"{keyword} must be more than {above:g} and at most {up_to:g} {unit} (or None), got {value!r}"
        ]
    return []


def check_function_name(function_name: object) -> list[str]:
    if function_name is None or is_unresolved(function_name):
        return []
    if not isinstance(function_name, str) or not _FUNCTION_NAME.fullmatch(function_name):
        return [
            f"function_name must be 1 to 64 letters, digits, hyphens or underscores, got {function_name!r}"
        ]
    return []


def check_description(description: object) -> list[str]:
    if description is None or is_unresolved(description):
        return []
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        return [
            f"description must be a str of at most {MAX_DESCRIPTION_LENGTH} characters, got {description!r}"
        ]
    return []


def check_choice(keyword: str, value: object, choices: Iterable[Any], shown: str) -> list[str]:
    """`value` is one of `choices` (members of a jsii enum or other fixed set)."""
    if value is None or value in list(choices):
        return []
    return [f"{keyword} must be {shown}, got {value!r}"]


def check_flag(keyword: str, value: object) -> list[str]:
    if isinstance(value, bool):
        return []
    return [f"{keyword} must be True or False, got {value!r} ({_type_name(value)})"]


def check_flag_or_options(keyword: str, value: object, options_type: type) -> list[str]:
    if isinstance(value, (bool, options_type)):
        return []
    return [
        f"{keyword} must be True, False or a {options_type.__name__}, got {value!r} ({_type_name(value)})"
    ]


def check_alarm_thresholds(thresholds: AlarmThresholds, timeout: object) -> list[str]:
    """Each alarm threshold in its range; the duration alarm also needs a timeout known at synth time."""
    problems = [
        *check_optional_range(
            "streamed_bytes_alarm_threshold_mb",
            thresholds.streamed_bytes_mb,
            above=0,
            up_to=STREAMED_RESPONSE_LIMIT_MB,
            unit="MB",
        ),
        *check_optional_count("errors_alarm_threshold_count", thresholds.errors_count, minimum=1),
        *check_optional_count("throttles_alarm_threshold_count", thresholds.throttles_count, minimum=1),
        *check_optional_count("url_5xx_alarm_threshold_count", thresholds.url_5xx_count, minimum=1),
        *check_optional_range(
            "duration_alarm_threshold_percent_of_timeout",
            thresholds.duration_percent_of_timeout,
            above=0,
            up_to=100,
            unit="percent",
        ),
        *check_optional_range(
            "time_to_first_byte_alarm_threshold_ms",
            thresholds.time_to_first_byte_ms,
            above=0,
            up_to=MAX_TIMEOUT_SECONDS * 1000,
            unit="ms",
        ),
        *check_optional_count(
            "errors_after_first_byte_alarm_threshold_count",
            thresholds.errors_after_first_byte_count,
            minimum=1,
        ),
    ]
    if (
        thresholds.duration_percent_of_timeout is not None
        and isinstance(timeout, cdk.Duration)
        and timeout.is_unresolved()
    ):
        problems.append(
            "duration_alarm_threshold_percent_of_timeout needs a timeout known at synth time, got a token; "
            "pass None to switch the duration alarm off"
        )
    return problems


def check_cloudfront(cloudfront_option: object, auth_type: object) -> list[str]:
    """CloudFront signs its requests to the URL, so it needs AWS_IAM; its read timeout within CloudFront's."""
    problems: list[str] = []
    if cloudfront_option and auth_type != lambda_.FunctionUrlAuthType.AWS_IAM:
        problems.append(
            "cloudfront needs auth_type=lambda_.FunctionUrlAuthType.AWS_IAM (Origin Access Control signs "
            f"CloudFront's requests to the URL), got {auth_type}"
        )
    if isinstance(cloudfront_option, CloudFrontOptions) and (
        read_timeout := cloudfront_option.origin_read_timeout
    ):
        if not isinstance(read_timeout, cdk.Duration):
            problems.append(
                f"CloudFrontOptions.origin_read_timeout must be an aws_cdk.Duration, got {read_timeout!r}"
            )
        elif (
            not read_timeout.is_unresolved()
            and not 1 <= read_timeout.to_seconds() <= MAX_ORIGIN_READ_TIMEOUT_SECONDS
        ):
            problems.append(
                "CloudFrontOptions.origin_read_timeout must be between 1 and "
                f"{MAX_ORIGIN_READ_TIMEOUT_SECONDS} seconds, got {read_timeout.to_human_string()}"
            )
    return problems


def raise_if_invalid(construct_path: str, problems: list[str]) -> None:
    """One ValueError with every problem, so a user fixes them all in one go."""
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise ValueError(f"StreamingFunction {construct_path!r} has invalid props:\n{listed}")
