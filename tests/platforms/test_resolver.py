"""The dependency closure a root is built from, on small indexes: a table of cases."""

from __future__ import annotations

import pytest

from cdk_stream_fn.platform_roots.debian_index import PackageRecord
from cdk_stream_fn.platform_roots.resolver import ResolveError, resolve


def index(**packages: tuple[str, ...] | dict[str, tuple[str, ...]]) -> dict[str, PackageRecord]:
    """name=("dep", "alt1|alt2") or name={"depends": (...), "provides": (...)}."""
    records = {}
    for name, spec in packages.items():
        name = name.replace("_", "-")
        fields = spec if isinstance(spec, dict) else {"depends": spec}
        records[name] = PackageRecord(
            name=name,
            version="1",
            architecture="amd64",
            filename=f"pool/{name}.deb",
            sha256=name,
            size=1,
            depends=tuple(tuple(group.split("|")) for group in fields.get("depends", ())),
            provides=fields.get("provides", ()),
        )
    return records


CASES = [
    ("a chain", index(app=("lib",), lib=("libc",), libc=()), ["app"], ["app", "lib", "libc"]),
    ("a cycle", index(a=("b",), b=("a",)), ["a"], ["a", "b"]),
    (
        "the first real alternative",
        index(app=("missing|second|third",), second=(), third=()),
        ["app"],
        ["app", "second"],
    ),
    (
        "an alternative already chosen",
        index(app=("first|second",), other=("second",), first=(), second=()),
        ["other", "app"],
        ["app", "other", "second"],
    ),
    (
        "a virtual package, by the first provider's name",
        index(app=("virtual",), zeta={"provides": ("virtual",)}, alpha={"provides": ("virtual",)}),
        ["app"],
        ["alpha", "app"],
    ),
    (
        "a virtual package already provided",
        index(app=("real", "virtual"), real={"provides": ("virtual",)}, other={"provides": ("virtual",)}),
        ["app"],
        ["app", "real"],
    ),
    ("nothing twice", index(app=("lib", "lib"), lib=()), ["app", "app"], ["app", "lib"]),
]


@pytest.mark.parametrize(("case", "packages", "wanted", "expected"), CASES, ids=[case[0] for case in CASES])
def test_the_closure(
    case: str, packages: dict[str, PackageRecord], wanted: list[str], expected: list[str]
) -> None:
    assert [record.name for record in resolve(packages, wanted)] == expected


def test_every_gap_is_named_at_once_with_what_needs_it() -> None:
    packages = index(app=("lib", "gone|also-gone"), lib=("libgone",))
    with pytest.raises(ResolveError) as raised:
        resolve(packages, ["app", "absent"])
    message = str(raised.value)
    assert "absent (needed by requested)" in message
    assert "gone | also-gone (needed by app)" in message
    assert "libgone (needed by lib)" in message
