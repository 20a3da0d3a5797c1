"""Which file changes `serve` acts on, and how: a function's code, or the CDK app (sans IO).

A change inside a function's entry directory is a change to that function's code (its requirements
file included): `serve` copies the code again and starts new sandboxes, without synthesizing. Any other
change in the CDK app's directory that `cdk watch` would act on re-synthesizes the app. That set is the
one cdk.json's `"watch"` setting describes for `cdk watch` (`include`, default `**`; `exclude`), plus
what the CDK CLI always leaves out: its output directory (`cdk.out`), files and directories whose name
starts with a dot, and `node_modules` (aws-cdk-cli, toolkit-lib `Toolkit.watch`: "the CDK output
directory", "Any file whose name starts with a dot", "Any directory's content whose name starts with a
dot", "Any node_modules and its content"). Byte code, editors' backup and swap files, virtual
environments and what the construct leaves out of an asset are never changes.

Patterns are globs relative to the app directory, as cdk.json's: `*` and `?` within one path segment,
`**` across segments, `[...]` a character class. A pattern that names a directory covers what is in it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cdk_stream_fn.contract import CODE_EXCLUDED_PATTERNS

#: What the CDK CLI always excludes from `cdk watch`, beside its output directory.
CDK_ALWAYS_EXCLUDED = ("**/.*", "**/.*/**", "**/node_modules/**")
DEFAULT_OUTPUT = "cdk.out"

#: Names that are never a change: byte code, editors' swap, backup and probe files (vim writes `4913`
#: to test a directory; JetBrains IDEs `*___jb_tmp___`), and what a code asset leaves out.
_NOISE = re.compile(r"(\.py[cod]|~|\.sw[a-p]|___jb_\w+___|\.tmp)$|^(\.#|#.*#$|flycheck_|4913$)")


@dataclass(frozen=True)
class Change:
    """What a set of file changes asks for: new code for some functions, a new synthesis, or both."""

    functions: frozenset[str] = frozenset()
    app: bool = False

    def __bool__(self) -> bool:
        return bool(self.functions) or self.app


@dataclass(frozen=True)
class WatchRules:
    """How `serve` reads file changes.

    `entries`: each function's entry directory, with the names of the functions whose code it holds;
    `app_dir`: the CDK app's directory (None: serving a given assembly or one function, no synthesis);
    `include`/`exclude`: cdk.json's `watch` patterns (see the module's docstring); `output`: the CDK
    output directory, relative to the app directory.
    """

    entries: Mapping[Path, tuple[str, ...]] = field(default_factory=dict)
    app_dir: Path | None = None
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()
    output: str = DEFAULT_OUTPUT

    def classify(self, paths: Iterable[Path]) -> Change:
        """What the changed `paths` ask for."""
        functions: set[str] = set()
        app = False
        for path in paths:
            if _is_noise(path):
                continue
            in_entry = False
            for entry, names in self.entries.items():
                relative = _relative(path, entry)
                if relative is not None:
                    in_entry = True
                    if not any(_code_excluded(part) for part in relative.parts):
                        functions.update(names)
            if not in_entry and self.app_dir is not None:
                relative = _relative(path, self.app_dir)
                app = app or (relative is not None and self.is_app_file(relative))
        return Change(frozenset(functions), app)

    def is_app_file(self, relative: PurePosixPath) -> bool:
        """Whether a change to `relative` (a path in the app directory) re-synthesizes the app."""
        if not relative.parts:
            return False
        excluded = (*self.exclude, f"{self.output.strip('/')}/**", *CDK_ALWAYS_EXCLUDED)
        return _matches_any(self.include, relative) and not _matches_any(excluded, relative)

    def roots(self) -> tuple[list[Path], list[Path]]:
        """What to watch: (directories watched without their subdirectories, directories watched with
        them). The app directory is watched flat, for its own files; of its subdirectories those that
        may hold an app file are watched whole, as are the entries; a virtual environment, dot
        directories and the output never are, so a large `.venv` costs nothing."""
        flat: list[Path] = []
        deep: list[Path] = list(self.entries)
        if self.app_dir is not None and self.app_dir.is_dir():
            flat.append(self.app_dir)
            for child in sorted(self.app_dir.iterdir()):
                if (
                    child.is_dir()
                    and not (child / "pyvenv.cfg").exists()
                    and self._may_hold_app_files(child.name)
                ):
                    deep.append(child)
        return flat, _outermost(deep)

    def _may_hold_app_files(self, name: str) -> bool:
        directory = PurePosixPath(name)
        if _is_noise(Path(name)) or _code_excluded(name) or self.is_excluded_directory(directory):
            return False
        return any(
            pattern.startswith("**") or fnmatch.fnmatchcase(name, pattern.split("/", 1)[0])
            for pattern in self.include
        )

    def is_excluded_directory(self, relative: PurePosixPath) -> bool:
        """Whether everything in the directory `relative` is excluded."""
        excluded = (*self.exclude, f"{self.output.strip('/')}/**", *CDK_ALWAYS_EXCLUDED)
        return _matches_any(excluded, relative / "x")


def rules_from_cdk_json(app_dir: Path, entries: Mapping[Path, tuple[str, ...]]) -> WatchRules:
    """The rules for a CDK app: its cdk.json's `watch` and `output`, if it has them (a cdk.json that
    cannot be read leaves the defaults: synthesis will say what is wrong with it)."""
    try:
        settings = json.loads((app_dir / "cdk.json").read_text())
    except (OSError, ValueError):
        settings = {}
    watch = settings.get("watch") if isinstance(settings, dict) else None
    watch = watch if isinstance(watch, dict) else {}
    include = _strings(watch.get("include")) or ("**",)
    output = settings.get("output") if isinstance(settings, dict) else None
    return WatchRules(
        entries=dict(entries),
        app_dir=app_dir,
        include=include,
        exclude=_strings(watch.get("exclude")),
        output=output if isinstance(output, str) and output else DEFAULT_OUTPUT,
    )


def _strings(value: object) -> tuple[str, ...]:
    """cdk.json takes one string or a list of them."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def _relative(path: Path, directory: Path) -> PurePosixPath | None:
    try:
        return PurePosixPath(path.relative_to(directory).as_posix())
    except ValueError:
        return None


def _is_noise(path: Path) -> bool:
    return bool(_NOISE.search(path.name)) or "__pycache__" in path.parts


def _code_excluded(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in CODE_EXCLUDED_PATTERNS)


def _matches_any(patterns: Iterable[str], relative: PurePosixPath) -> bool:
    """Whether `relative`, or a directory it is in, matches one of `patterns`."""
    candidates = [PurePosixPath(*relative.parts[: n + 1]).as_posix() for n in range(len(relative.parts))]
    return any(glob_regex(pattern).fullmatch(candidate) for pattern in patterns for candidate in candidates)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regular expression over `/`-separated relative paths (see the module's docstring)."""
    pattern = pattern.strip().removeprefix("./").rstrip("/")
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := pattern.find("]", index + 1)) > index:
            body = pattern[index + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            index = end + 1
            continue
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out))


def _outermost(directories: list[Path]) -> list[Path]:
    """The directories that are not inside another one of them, each once."""
    unique = sorted(set(directories), key=lambda path: len(path.parts))
    kept: list[Path] = []
    for directory in unique:
        if not any(directory.is_relative_to(parent) for parent in kept):
            kept.append(directory)
    return kept
