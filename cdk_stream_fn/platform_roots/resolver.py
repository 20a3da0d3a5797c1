"""The packages a root needs: the dependency closure of a few packages in one Packages index (sans-IO).

What apt would install with `--no-install-recommends` into an empty system, for a root that never runs
a maintainer script: `Pre-Depends` and `Depends` are followed, `Recommends` and `Suggests` are not.
An alternative group is met by a package already chosen, else by its first alternative that is a real
package, else by the first (by name) real package that `Provides` it. Version constraints are not
checked: one suite's index holds one version of each package, and the archive keeps a suite
installable. Nothing here chooses between versions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from .debian_index import PackageRecord


class ResolveError(LookupError):
    """Some dependency is in no package of the index; the message names each, with what needs it."""


def resolve(index: Mapping[str, PackageRecord], wanted: Iterable[str]) -> list[PackageRecord]:
    """The closure of `wanted` in `index`, sorted by name; raises ResolveError naming every gap at once."""
    providers: dict[str, list[str]] = {}
    for record in index.values():
        for virtual in record.provides:
            providers.setdefault(virtual, []).append(record.name)
    planned: set[str] = set()  # every real package chosen, processed or still queued
    provided: set[str] = set()
    missing: list[str] = []

    def satisfied(group: tuple[str, ...]) -> bool:
        return any(name in planned or name in provided for name in group)

    def pick(group: tuple[str, ...]) -> str | None:
        for name in group:
            if name in index:
                return name
        for name in group:
            if name in providers:
                return min(providers[name])
        return None

    def plan(group: tuple[str, ...], needed_by: str) -> None:
        if satisfied(group):
            return
        choice = pick(group)
        if choice is None:
            missing.append(f"{' | '.join(group)} (needed by {needed_by})")
            return
        planned.add(choice)
        provided.update(index[choice].provides)
        queue.append(choice)

    queue: deque[str] = deque()
    for name in wanted:
        plan((name,), "requested")
    while queue:
        name = queue.popleft()
        for group in index[name].depends:
            plan(group, name)
    if missing:
        raise ResolveError("not in the index: " + "; ".join(dict.fromkeys(missing)))
    return sorted((index[name] for name in planned), key=lambda record: record.name)
