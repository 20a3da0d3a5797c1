"""Who may talk to the emulator, as tables without sockets: Host names, browser marks, request targets."""

from __future__ import annotations

import pytest

from cdk_stream_fn.emulator.http.admission import (
    HostCheck,
    browser_site,
    cross_origin,
    foreign_caller,
    is_loopback,
    split_host,
)
from cdk_stream_fn.emulator.http.targets import RequestTarget, TargetForm, parse_target


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", None)),
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("LocalHost:9000", ("localhost", 9000)),
        ("[::1]:9000", ("[::1]", 9000)),
        ("[::1]", ("[::1]", None)),
        ("attacker.example", ("attacker.example", None)),
        ("127.0.0.1:", None),
        ("127.0.0.1:99999", None),
        ("127.0.0.1:90a", None),
        ("[::1", None),
        ("[::1]x", None),
        ("user@127.0.0.1", None),
        ("127.0.0.1/path", None),
        ("", None),
    ],
)
def test_a_host_value_splits_into_name_and_port(value: str, expected: tuple[str, int | None] | None) -> None:
    assert split_host(value) == expected


LOOPBACK = HostCheck("127.0.0.1", 9000)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:9000",
        "127.0.0.1",
        "localhost:9000",
        "LOCALHOST",
        "localhost.:9000",
        "[::1]:9000",
        "[0:0:0:0:0:0:0:1]:9000",
    ],
)
def test_the_loopback_names_are_served_with_or_without_the_port(host: str) -> None:
    assert LOOPBACK.refusal([(b"host", host.encode())], "1.1") is None


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example",
        "attacker.example:9000",
        "localhost:9001",
        "127.0.0.2:9000",
        "127.0.0.1.nip.io:9000",
        "0.0.0.0:9000",
        "evil.localhost:9000",
        "localhost:9000@evil",
    ],
)
def test_any_other_name_or_port_is_misdirected(host: str) -> None:
    refusal = LOOPBACK.refusal([(b"host", host.encode())], "1.1")

    assert refusal is not None
    assert (refusal.status, refusal.code) == (421, "MisdirectedRequest")
    assert repr(host) in refusal.message
    assert "127.0.0.1, localhost, [::1], port 9000" in refusal.message
    assert "DNS rebinding" in refusal.message
    assert "--allow-host NAME" in refusal.message


def test_http_1_1_needs_exactly_one_host_and_http_1_0_may_have_none() -> None:
    missing = LOOPBACK.refusal([], "1.1")
    twice = LOOPBACK.refusal([(b"host", b"127.0.0.1"), (b"host", b"attacker.example")], "1.1")

    assert missing is not None and (missing.status, missing.message) == (
        400,
        "an HTTP/1.1 request must carry a Host header",
    )
    assert twice is not None and twice.status == 400
    assert LOOPBACK.refusal([], "1.0") is None


def test_an_absolute_uri_authority_takes_the_place_of_the_host_header() -> None:
    assert LOOPBACK.refusal([(b"host", b"attacker.example")], "1.1", authority="127.0.0.1:9000") is None
    refused = LOOPBACK.refusal([(b"host", b"127.0.0.1:9000")], "1.1", authority="attacker.example")
    assert refused is not None and refused.status == 421


def test_the_listening_address_and_added_names_are_served_but_every_interface_is_not_a_name() -> None:
    lan = HostCheck("192.0.2.10", 9000, ["dev.example.test"])
    everywhere = HostCheck("0.0.0.0", 9000)

    assert lan.refusal([(b"host", b"192.0.2.10:9000")], "1.1") is None
    assert lan.refusal([(b"host", b"DEV.example.test")], "1.1") is None
    assert lan.refusal([(b"host", b"localhost:9000")], "1.1") is None
    assert everywhere.names == ("127.0.0.1", "localhost", "[::1]")
    assert everywhere.refusal([(b"host", b"0.0.0.0:9000")], "1.1") is not None
    assert HostCheck("::1", 9000).names == ("127.0.0.1", "localhost", "[::1]")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("app.localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_which_listening_addresses_keep_serve_on_this_machine(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], None),
        ([(b"user-agent", b"Boto3/1.35")], None),
        ([(b"origin", b"http://localhost:5173")], "Origin: http://localhost:5173"),
        ([(b"origin", b"null")], "Origin: null"),
        ([(b"sec-fetch-site", b"cross-site")], "Sec-Fetch-Site: cross-site"),
        ([(b"sec-fetch-site", b"same-site")], "Sec-Fetch-Site: same-site"),
        ([(b"sec-fetch-site", b"none")], None),
        ([(b"sec-fetch-site", b"same-origin")], None),
    ],
)
def test_browser_requests_are_told_apart_by_origin_and_fetch_metadata(
    headers: list[tuple[bytes, bytes]], expected: str | None
) -> None:
    assert browser_site(headers) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"origin", b"http://127.0.0.1:9000")], None),
        ([(b"origin", b"HTTP://127.0.0.1:9000"), (b"sec-fetch-site", b"same-origin")], None),
        ([(b"origin", b"http://localhost:9000")], "Origin: http://localhost:9000"),
        ([(b"origin", b"http://127.0.0.1:5173")], "Origin: http://127.0.0.1:5173"),
        ([(b"sec-fetch-site", b"same-site")], "Sec-Fetch-Site: same-site"),
        ([], None),
    ],
)
def test_a_page_calling_its_own_server_is_not_cross_origin(
    headers: list[tuple[bytes, bytes]], expected: str | None
) -> None:
    assert cross_origin(headers, "http://127.0.0.1:9000") == expected


def test_local_only_servers_refuse_foreign_hosts_and_any_browser_page() -> None:
    runtime_api = HostCheck("127.0.0.1", 9001)

    assert foreign_caller(runtime_api, [(b"host", b"127.0.0.1:9001")], "1.1") is None
    host = foreign_caller(runtime_api, [(b"host", b"rebound.example:9001")], "1.1")
    page = foreign_caller(runtime_api, [(b"host", b"127.0.0.1:9001"), (b"origin", b"http://x.test")], "1.1")
    assert host is not None and host.status == 421
    assert page is not None and (page.status, page.code) == (403, "AccessDenied")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([(b"host", b"127.0.0.1:9001")], None),
        ([(b"host", b"127.0.0.1:9001"), (b"host", b"127.0.0.1:9001")], 400),
        ([(b"host", b"127.0.0.1:9001"), (b"sec-fetch-site", b"cross-site")], 403),
        ([(b"origin", b"http://x.test"), (b"host", b"127.0.0.1:9001")], 403),
        ([], 400),
    ],
)
def test_a_host_accepted_before_does_not_let_a_browser_or_a_second_host_through(
    headers: list[tuple[bytes, bytes]], status: int | None
) -> None:
    runtime_api = HostCheck("127.0.0.1", 9001)
    assert foreign_caller(runtime_api, [(b"host", b"127.0.0.1:9001")], "1.1") is None  # now remembered

    refusal = foreign_caller(runtime_api, headers, "1.1")

    assert (refusal.status if refusal else None) == status


@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        ("GET", "/", RequestTarget(TargetForm.ORIGIN, path="/")),
        ("GET", "/a/b?x=1&y", RequestTarget(TargetForm.ORIGIN, path="/a/b", query="x=1&y")),
        (
            "GET",
            "http://127.0.0.1:9000/path?q=1",
            RequestTarget(TargetForm.ABSOLUTE, path="/path", query="q=1", authority="127.0.0.1:9000"),
        ),
        ("GET", "HTTP://Example.com", RequestTarget(TargetForm.ABSOLUTE, path="/", authority="Example.com")),
        ("CONNECT", "example.com:443", RequestTarget(TargetForm.AUTHORITY, authority="example.com:443")),
        ("CONNECT", "/", RequestTarget(TargetForm.INVALID)),
        ("OPTIONS", "*", RequestTarget(TargetForm.ASTERISK)),
        ("GET", "*", RequestTarget(TargetForm.INVALID)),
        ("GET", "example.com:443", RequestTarget(TargetForm.INVALID)),
        ("GET", "ftp://example.com/x", RequestTarget(TargetForm.INVALID)),
        ("GET", "http://user@example.com/", RequestTarget(TargetForm.INVALID)),
        ("GET", "http:///nohost", RequestTarget(TargetForm.INVALID)),
    ],
)
def test_request_targets_come_in_four_forms(method: str, target: str, expected: RequestTarget) -> None:
    assert parse_target(method, target) == expected


def test_the_origin_form_of_an_absolute_target_is_what_a_function_sees() -> None:
    assert parse_target("GET", "http://h/p?q=1").origin_form == "/p?q=1"
    assert parse_target("GET", "http://h").origin_form == "/"
