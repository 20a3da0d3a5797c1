"""`cdk-stream-fn roots`: build and list the platform roots that `serve --platform` runs functions in.

Only the standard library is imported at module level; the builder loads when the command runs.
"""

from __future__ import annotations

import argparse
import sys

from cdk_stream_fn.cli.errors import CliError


def run_roots_build(args: argparse.Namespace) -> int:
    from cdk_stream_fn.platform_roots.archive import ArchiveError
    from cdk_stream_fn.platform_roots.builder import RootSpec, ensure_root
    from cdk_stream_fn.platform_roots.debian_index import ArchiveFormatError
    from cdk_stream_fn.platform_roots.host import HostError, problems
    from cdk_stream_fn.platform_roots.platforms import PlatformError, parse_platform
    from cdk_stream_fn.platform_roots.prepare import check_host
    from cdk_stream_fn.platform_roots.resolver import ResolveError

    try:
        platforms = [parse_platform(name, default_architecture=args.arch) for name in args.python]
    except PlatformError as error:
        raise CliError(str(error)) from None
    for platform in platforms:
        try:
            check_host(platform, to_run=False)
            root = ensure_root(RootSpec(platform, args.suite), progress=_progress)
        except (HostError, ArchiveError, ArchiveFormatError, ResolveError, PlatformError) as error:
            raise CliError(str(error)) from None
        state = "built" if root.built else "cached"
        print(f"{platform}\t{state} in {root.seconds:.1f} s\t{len(root.packages)} packages\t{root.rootfs}")
        for problem in problems(platform):
            _progress(f"warning: built, but it cannot run here yet: {problem}")
    return 0


def run_roots_list(args: argparse.Namespace) -> int:
    from cdk_stream_fn.platform_roots.cache import RootCache, default_cache_dir

    cache_dir = default_cache_dir()
    roots = RootCache(cache_dir).roots()
    print(f"cache: {cache_dir}")
    if not roots:
        print("no platform roots yet: cdk-stream-fn roots build python3.14 --arch arm64")
    for root in roots:
        manifest = root.manifest
        interpreter = next(
            (v for n, v in manifest["packages"] if n.startswith("python3.") and "-" not in n), "?"
        )
        extras = " ".join(manifest.get("extra_packages") or [])
        print(
            f"{manifest['platform']}\t{manifest['suite']}\tPython {interpreter}\t"
            f"{'with ' + extras if extras else 'Lambda layout only'}\tbuilt {manifest['built_at']}\t{root.directory}"
        )
    return 0


def run_roots_prune(args: argparse.Namespace) -> int:
    """Remove every root but the newest of each platform, suite and package set."""
    from cdk_stream_fn.platform_roots.cache import RootCache, default_cache_dir, remove_tree

    newest: dict[tuple[str, str, tuple[str, ...]], str] = {}
    roots = RootCache(default_cache_dir()).roots()
    for root in sorted(roots, key=lambda root: str(root.manifest["built_at"])):
        manifest = root.manifest
        newest[(manifest["platform"], manifest["suite"], tuple(manifest["extra_packages"]))] = root.key
    for root in roots:
        manifest = root.manifest
        if newest[(manifest["platform"], manifest["suite"], tuple(manifest["extra_packages"]))] != root.key:
            remove_tree(root.directory)
            print(f"removed {root.directory}")
    return 0


def add_roots_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from cdk_stream_fn.platform_roots.platforms import DEFAULT_SUITE

    roots = commands.add_parser(
        "roots",
        help="build and list the Linux roots with Lambda's interpreters that `serve --platform` uses",
        description=(
            "Platform roots hold Debian's build of a Lambda Python interpreter for one architecture, laid "
            "out as a Lambda sandbox; `serve --platform python3.14/arm64` runs functions in one (arm64 "
            "through qemu-user). Built from Debian's signed archive, cached by what they hold."
        ),
    )
    actions = roots.add_subparsers(dest="roots_command", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="build (or find in the cache) roots for Python versions")
    build.add_argument(
        "python", nargs="+", help="python3.13, python3.14, or with an architecture: python3.14/x86_64"
    )
    build.add_argument(
        "--arch", default="arm64", help="the architecture when not given: arm64 (default) or x86_64"
    )
    build.add_argument("--suite", default=DEFAULT_SUITE, help=f"the Debian suite (default: {DEFAULT_SUITE})")
    build.set_defaults(run=run_roots_build)
    listing = actions.add_parser("list", help="list the roots in the cache")
    listing.set_defaults(run=run_roots_list)
    prune = actions.add_parser("prune", help="remove roots superseded by a newer build of the same kind")
    prune.set_defaults(run=run_roots_prune)


def _progress(message: str) -> None:
    print(f"cdk-stream-fn: {message}", file=sys.stderr, flush=True)
