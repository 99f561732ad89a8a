"""Where EMQX traffic may go: the operator's host patterns, the deployment API URL rules, refused addresses."""

import pytest

from shared.hosts import DEFAULT_DEPLOYMENT_API_HOSTS, HostPattern, deployment_api_url_problem, refused_address

LOCALCLOUD = (HostPattern.parse("*.deployments.localhost:47001"),)


@pytest.mark.parametrize(
    "url",
    [
        "https://a5e7c1d0.eastus.azure.emqx.cloud:8443/api/v5",
        "https://w41b11c0.ala.us-east-1.emqxsl.com/api/v5/",
        "https://x.emqxcloud.com:443/api/v5",
    ],
)
def test_emqx_cloud_deployment_hosts_are_allowed_by_default(url: str) -> None:
    assert deployment_api_url_problem(url, "v5", DEFAULT_DEPLOYMENT_API_HOSTS) is None


@pytest.mark.parametrize(
    ("url", "version", "says"),
    [
        ("https://attacker.example:8443/api/v5", "v5", "not a deployment API host the operator allows"),
        ("https://emqx.cloud.attacker.example/api/v5", "v5", "not a deployment API host"),
        ("https://emqxsl.com:8443/api/v5", "v5", "not a deployment API host"),
        ("https://evilemqxsl.com:8443/api/v5", "v5", "not a deployment API host"),
        ("https://a.emqxsl.com:9443/api/v5", "v5", "ports 443 and 8443"),
        ("https://a.emqxsl.com:8443/api/v4", "v5", "must end in /api/v5"),
        ("https://a.emqxsl.com:8443/api/v5", "v4", "must end in /api/v4"),
        ("https://a.emqxsl.com:8443/api/v5/../../arm", "v5", "must end in /api/v5"),
        ("https://a.emqxsl.com:8443/", "v5", "must end in /api/v5"),
        ("http://a.emqxsl.com/api/v5", "v5", "https://"),
        ("https://user:pw@a.emqxsl.com/api/v5", "v5", "without credentials"),
        ("https://a.emqxsl.com/api/v5?x=1", "v5", "without credentials, query"),
        ("https://169.254.169.254:443/api/v5", "v5", "names an IP address"),
        ("https://127.0.0.1:8443/api/v5", "v5", "names an IP address"),
        ("https://[::1]:8443/api/v5", "v5", "names an IP address"),
        ("https://a%2eemqxsl.com/api/v5", "v5", "is not a host name"),
    ],
)
def test_other_urls_are_refused_with_the_reason(url: str, version: str, says: str) -> None:
    problem = deployment_api_url_problem(url, version, DEFAULT_DEPLOYMENT_API_HOSTS)
    assert problem is not None
    assert says in problem


def test_a_pattern_with_a_port_allows_exactly_that_port() -> None:
    assert deployment_api_url_problem("https://a.deployments.localhost:47001/api/v5", "v5", LOCALCLOUD) is None
    for url in ("https://a.deployments.localhost:8443/api/v5", "https://a.deployments.localhost:47002/api/v5"):
        assert deployment_api_url_problem(url, "v5", LOCALCLOUD) is not None


def test_an_ip_literal_is_allowed_only_where_the_operator_names_it() -> None:
    allowed = (HostPattern.parse("10.20.0.4:8443"),)
    assert deployment_api_url_problem("https://10.20.0.4:8443/api/v4", "v4", allowed) is None
    assert deployment_api_url_problem("https://10.20.0.5:8443/api/v4", "v4", allowed) is not None


@pytest.mark.parametrize("text", ["*.com", "*", "a b", "host:0", "host:99999", "*.-bad.com", ""])
def test_malformed_patterns_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        HostPattern.parse(text)


@pytest.mark.parametrize(
    ("address", "allow_loopback", "says"),
    [
        ("169.254.169.254", True, "link-local"),
        ("169.254.130.1", False, "link-local"),
        ("fe80::1", True, "link-local"),
        ("127.0.0.1", False, "loopback"),
        ("127.9.9.9", False, "loopback"),
        ("::1", False, "loopback"),
        ("::ffff:127.0.0.1", False, "loopback"),
        ("::ffff:169.254.169.254", True, "link-local"),
        ("0.0.0.0", True, "not a unicast address"),
        ("224.0.0.1", True, "not a unicast address"),
    ],
)
def test_addresses_emqx_traffic_never_reaches(address: str, allow_loopback: bool, says: str) -> None:
    reason = refused_address(address, allow_loopback=allow_loopback)
    assert reason is not None
    assert says in reason


@pytest.mark.parametrize("address", ["20.42.0.7", "10.1.0.9", "2603:1030::5"])
def test_ordinary_addresses_are_fine(address: str) -> None:
    assert refused_address(address, allow_loopback=False) is None


def test_loopback_only_when_the_operator_allows_it() -> None:
    assert refused_address("127.0.0.1", allow_loopback=True) is None
