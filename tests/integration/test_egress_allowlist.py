"""A project with an egress allow-list: allowed pairs through the proxy, nothing else, never the host.

Every address used is this machine's own Docker bridge (the default bridge's gateway, or the egress
network's gateway): no traffic leaves the machine.
"""

from __future__ import annotations

import http.server
import ipaddress
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec.egress import LABEL_EGRESS_FOR
from tests.conftest import SAMPLE


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the allowed service"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _gateway(executor: DockerExecutor) -> str:
    config = executor.backend.client.networks.get("bridge").attrs["IPAM"]["Config"][0]  # type: ignore[union-attr]
    return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


@pytest.fixture
def services(executor: DockerExecutor) -> Iterator[dict[str, int | str]]:
    gateway = _gateway(executor)
    allowed = http.server.ThreadingHTTPServer((gateway, 0), _Hello)
    denied = http.server.ThreadingHTTPServer((gateway, 0), _Hello)
    redis_like = socket.socket()
    redis_like.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    redis_like.bind(("0.0.0.0", 0))  # like a Redis on all interfaces, the host's egress-bridge address included
    redis_like.listen(8)
    for server in (allowed, denied):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {
        "gateway": gateway,
        "allowed": allowed.server_address[1],
        "denied": denied.server_address[1],
        "redis": redis_like.getsockname()[1],
    }
    for server in (allowed, denied):
        server.shutdown()
        server.server_close()
    redis_like.close()


def _fetch(url: str) -> str:
    return (
        'python3 -c "import urllib.request,sys\n'
        "try:\n"
        f"    print(urllib.request.urlopen('{url}', timeout=5).read().decode())\n"
        "except Exception as e:\n"
        "    print('FAILED', e); sys.exit(3)\""
    )


def _connect(host: str, port: int) -> str:
    return (
        'python3 -c "import socket,sys; s=socket.socket(); s.settimeout(3); '
        f"sys.exit(0 if s.connect_ex(('{host}', {port})) == 0 else 7)\""
    )


def test_only_allowed_pairs_pass_the_proxy_and_the_host_stays_unreachable(
    tmp_path: Path, services: dict, project_id: str
) -> None:
    gw, allowed, denied, redis = services["gateway"], services["allowed"], services["denied"], services["redis"]
    (tmp_path / "projects").mkdir()
    (tmp_path / "projects" / f"{project_id}.toml").write_text(
        f'[network]\nmode = "allowlist"\nallow = ["{gw}:{allowed}", "{gw}:{redis}", "example.org:443"]\n'
    )
    # The operator allows the service and nothing on the Redis port: the policy cannot widen that.
    ex = DockerExecutor(
        Settings(SIGMA_NODE="test-node", POLICY_DIR=str(tmp_path), EGRESS_ALLOWLIST=[f"{gw}:{allowed}", "*:443"])
    )
    ok, cid, err = ex.create_project_container(project_id, str(SAMPLE), "python")
    assert ok, err
    try:
        through = ex.execute_in_container(cid, _fetch(f"http://{gw}:{allowed}/"), timeout=30)
        assert "hello from the allowed service" in through.output, through.output
        refused = ex.execute_in_container(cid, _fetch(f"http://{gw}:{denied}/"), timeout=30)
        assert refused.exit_code == 3 and "403" in refused.output
        via_proxy_to_redis = ex.execute_in_container(cid, _fetch(f"http://{gw}:{redis}/"), timeout=30)
        assert via_proxy_to_redis.exit_code == 3 and "403" in via_proxy_to_redis.output
        assert ex.execute_in_container(cid, _connect(gw, allowed), timeout=30).exit_code == 7  # no direct route
        attrs = ex.backend.inspect(cid)  # type: ignore[union-attr]
        sandbox_name = attrs["Name"].lstrip("/")
        ((network, info),) = attrs["NetworkSettings"]["Networks"].items()
        subnet = str(ipaddress.ip_network(f"{info['IPAddress']}/{info['IPPrefixLen']}", strict=False))
        assert ex.execute_in_container(cid, _connect(info["Gateway"], redis), timeout=30).exit_code == 7
        with socket.create_connection(("127.0.0.1", redis), timeout=3):
            pass  # the listener itself answers: only the sandbox is shut out
        assert f"-s {subnet}" in subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True).stdout
    finally:
        ex.stop_container(cid)
    labels = {"sigma.managed": "1", LABEL_EGRESS_FOR: sandbox_name}
    assert ex.backend.list_networks(labels) == [] and ex.backend.list_containers(labels) == []  # type: ignore[union-attr]
    assert network not in {n.name for n in ex.backend.client.networks.list()}  # type: ignore[union-attr]
    assert f"-s {subnet}" not in subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True).stdout


def test_an_allowlist_outside_the_operators_ceiling_is_refused(tmp_path: Path, project_id: str) -> None:
    (tmp_path / "projects").mkdir()
    (tmp_path / "projects" / f"{project_id}.toml").write_text(
        '[network]\nmode = "allowlist"\nallow = ["10.1.2.3:22"]\n'
    )
    ex = DockerExecutor(Settings(SIGMA_NODE="test-node", POLICY_DIR=str(tmp_path), EGRESS_ALLOWLIST=["*:443"]))
    ok, cid, err = ex.create_project_container(project_id, str(SAMPLE), "python")
    assert (ok, cid) == (False, None) and "EGRESS_ALLOWLIST" in err
    assert ex.backend.list_networks({"sigma.managed": "1", "sigma.project": project_id}) == []  # type: ignore[union-attr]
