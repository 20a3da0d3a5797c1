"""Which file changes `serve` acts on: a table of paths, cdk.json's `watch`, and the globs it uses."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from cdk_stream_fn.emulator.app.watch_rules import Change, WatchRules, glob_regex, rules_from_cdk_json

APP = Path("/app")
RULES = WatchRules(
    entries={APP / "functions" / "chat": ("Chat",), APP / "functions" / "shared": ("A", "B")},
    app_dir=APP,
)


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("functions/chat/main.py", Change(frozenset({"Chat"}))),
        ("functions/chat/requirements.txt", Change(frozenset({"Chat"}))),
        ("functions/chat/templates/page.html", Change(frozenset({"Chat"}))),
        ("functions/shared/util.py", Change(frozenset({"A", "B"}))),  # one entry, two functions
        ("app.py", Change(app=True)),
        ("stacks/chat_stack.py", Change(app=True)),
        ("cdk.json", Change(app=True)),
        ("cdk.context.json", Change(app=True)),
        ("functions/new/index.py", Change(app=True)),  # not an entry yet: the app may use it
        # never a change:
        ("functions/chat/__pycache__/main.cpython-314.pyc", Change()),
        ("functions/chat/.venv/lib/site.py", Change()),
        ("functions/chat/.main.py.swp", Change()),
        ("functions/chat/main.py~", Change()),
        ("functions/chat/4913", Change()),
        ("cdk.out/manifest.json", Change()),
        (".venv/lib/python3.11/site-packages/x.py", Change()),
        (".git/index", Change()),
        ("node_modules/aws-cdk/bin/cdk", Change()),
        ("stacks/.hidden/x.py", Change()),
        ("app.pyc", Change()),
        ("/elsewhere/file.py", Change()),
    ],
)
def test_a_change_is_code_the_app_or_nothing(path: str, change: Change) -> None:
    assert RULES.classify([APP / path]) == change


def test_changes_together_ask_for_all_they_need() -> None:
    change = RULES.classify([APP / "app.py", APP / "functions/chat/main.py", APP / "cdk.out/x"])
    assert change == Change(frozenset({"Chat"}), app=True)
    assert not RULES.classify([APP / "README.txt~"])


def test_cdk_json_watch_settings_decide_what_is_the_app(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(
        json.dumps(
            {
                "app": "python3 app.py",
                "output": "build/assembly",
                "watch": {"include": ["app.py", "stacks/**"], "exclude": ["stacks/generated/**", "**/*.md"]},
            }
        )
    )
    rules = rules_from_cdk_json(tmp_path, {tmp_path / "functions" / "chat": ("Chat",)})

    def app(path: str) -> bool:
        return rules.classify([tmp_path / path]).app

    assert app("app.py") and app("stacks/api.py")
    assert not app("tests/test_api.py"), "not included"
    assert not app("stacks/generated/api.py") and not app("stacks/README.md"), "excluded"
    assert not app("build/assembly/manifest.json"), "the output directory"
    assert rules.classify([tmp_path / "functions/chat/main.py"]) == Change(frozenset({"Chat"}))


def test_a_cdk_json_that_cannot_be_read_leaves_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text("{not json")
    rules = rules_from_cdk_json(tmp_path, {})
    assert (rules.include, rules.exclude, rules.output) == (("**",), (), "cdk.out")
    (tmp_path / "cdk.json").write_text(json.dumps({"watch": {"include": "app.py", "exclude": "x"}}))
    assert rules_from_cdk_json(tmp_path, {}).include == ("app.py",), "a single string is taken, as cdk does"


def test_what_is_watched_leaves_virtual_environments_and_the_output_out(tmp_path: Path) -> None:
    for directory in (
        "stacks",
        "functions/chat",
        ".venv/lib",
        "venv/lib",
        "node_modules/x",
        "cdk.out",
        "tests",
    ):
        (tmp_path / directory).mkdir(parents=True)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    outside = tmp_path.parent / f"{tmp_path.name}-shared"
    rules = WatchRules(
        entries={tmp_path / "functions" / "chat": ("Chat",), outside: ("Shared",)},
        app_dir=tmp_path,
        include=("app.py", "stacks/**", "functions/**"),
    )

    flat, deep = rules.roots()

    assert flat == [tmp_path]
    assert sorted(deep) == sorted([tmp_path / "functions", tmp_path / "stacks", outside])


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        ("**", ["a", "a/b/c.py"], []),
        ("app.py", ["app.py"], ["lib/app.py", "app.pyc"]),
        ("*.py", ["app.py"], ["lib/app.py"]),
        ("**/*.py", ["app.py", "lib/deep/app.py"], ["app.pyc"]),
        ("stacks/**", ["stacks/a.py", "stacks/x/y.py"], ["stacks", "other/a.py"]),
        ("stack?.py", ["stack1.py"], ["stack10.py"]),
        ("[ab].py", ["a.py", "b.py"], ["c.py"]),
        ("[!ab].py", ["c.py"], ["a.py"]),
        ("./cdk.out/**", ["cdk.out/x"], []),
    ],
)
def test_globs_read_as_cdk_json_means_them(
    pattern: str, matching: list[str], not_matching: list[str]
) -> None:
    regex = glob_regex(pattern)
    assert [path for path in matching if regex.fullmatch(path)] == matching
    assert [path for path in not_matching if regex.fullmatch(path)] == []


def test_a_pattern_naming_a_directory_covers_what_is_in_it() -> None:
    rules = WatchRules(app_dir=APP, exclude=("generated",))
    assert not rules.is_app_file(PurePosixPath("generated/code.py"))
    assert rules.is_app_file(PurePosixPath("generator.py"))
