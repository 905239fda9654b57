"""Reading proxies as curl and httpx do: the variables, lower-case first, NO_PROXY's forms."""

from __future__ import annotations

import pytest

from vision_async import ConfigurationError
from vision_async._transports.proxy import FROM_ENV, parse_proxy, routes


def _route(env: dict[str, str], url: str) -> str | None:
    scheme, rest = url.split("://")
    host, _, port = rest.partition(":")
    chosen = routes(FROM_ENV, trust_env=True, environ=env).for_origin(scheme, host, int(port or 443))
    return None if chosen is None else chosen.url


def test_scheme_variables_and_fallback() -> None:
    env = {"HTTPS_PROXY": "http://s:1", "HTTP_PROXY": "http://p:2", "ALL_PROXY": "http://a:3"}
    assert _route(env, "https://x.com:443") == "http://s:1"
    assert _route(env, "http://x.com:80") == "http://p:2"
    assert _route({"ALL_PROXY": "http://a:3"}, "https://x.com:443") == "http://a:3"
    assert _route({}, "https://x.com:443") is None


def test_lower_case_wins() -> None:
    assert _route({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"}, "https://x.com:443") == (
        "http://lower:2"
    )


@pytest.mark.parametrize(
    ("no_proxy", "url", "direct"),
    [
        ("x.com", "https://x.com:443", True),
        ("x.com", "https://a.x.com:443", True),
        (".x.com", "https://a.x.com:443", True),
        (".x.com", "https://x.com:443", True),
        ("x.com", "https://notx.com:443", False),
        ("*", "https://any.where:443", True),
        ("10.0.0.0/8", "https://10.1.2.3:443", True),
        ("10.0.0.0/8", "https://11.1.2.3:443", False),
        ("10.1.2.3", "https://10.1.2.3:443", True),
        ("x.com:8443", "https://x.com:8443", True),
        ("x.com:8443", "https://x.com:443", False),
        (" a.com , x.com ", "https://x.com:443", True),
    ],
)
def test_no_proxy_forms(no_proxy: str, url: str, direct: bool) -> None:
    env = {"https_proxy": "http://p:3128", "no_proxy": no_proxy}
    assert (_route(env, url) is None) is direct


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1", "a.localhost"])
def test_loopback_never_proxied_from_the_environment_but_proxied_when_asked(host: str) -> None:
    assert (
        routes(FROM_ENV, trust_env=True, environ={"https_proxy": "http://p:1"}).for_origin("https", host, 443) is None
    )
    assert routes("http://p:1", trust_env=True, environ={}).for_origin("https", host, 443) is not None


def test_proxy_none_and_trust_env_false_ignore_the_environment() -> None:
    env = {"https_proxy": "http://p:1"}
    assert routes(None, trust_env=True, environ=env).for_origin("https", "x.com", 443) is None
    assert routes(FROM_ENV, trust_env=False, environ=env).for_origin("https", "x.com", 443) is None


def test_credentials_are_a_secret_never_shown() -> None:
    config = parse_proxy("http://us%40er:p%3Ass-word-123@proxy.corp:3128")
    assert config.where == "proxy.corp:3128"
    assert "p:ss-word-123" not in repr(config) and "ss-word" not in config.url
    assert config.authorization is not None
    import base64

    assert config.authorization.reveal() == "Basic " + base64.b64encode(b"us@er:p:ss-word-123").decode()
    assert "ss-word" not in repr(config.authorization)


@pytest.mark.parametrize("bad", ["", "https://proxy:443", "socks5://p:1", "http://:80", "http://p:notaport"])
def test_bad_proxy_urls_are_configuration_errors(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_proxy(bad)


def test_bad_variable_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="HTTPS_PROXY"):
        routes(FROM_ENV, trust_env=True, environ={"https_proxy": "ftp://x"})


def test_no_proxy_ipv6_network() -> None:
    chosen = routes(
        FROM_ENV, trust_env=True, environ={"https_proxy": "http://p:1", "no_proxy": "[fd00::1]:443,fd00::/8"}
    )
    assert chosen.for_origin("https", "fd00::5", 443) is None
    assert chosen.for_origin("https", "fe80::5", 443) is not None
