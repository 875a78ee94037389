"""Egress through an allow-list: an internal network, a proxy container, and a host firewall rule.

A sandbox whose policy allows some `host:port` pairs sits alone with a proxy on an `--internal`
network (no route out). The proxy (its own hardened container, also on the default bridge) forwards
only to allowed pairs. An internal network still reaches the host through its bridge address
(moby#47356), so an iptables INPUT rule drops everything from the network's subnet to the host.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import shutil
import subprocess
import uuid
from collections.abc import Iterable

from pydantic import BaseModel

from sigma_exec import constants as c
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.egress_proxy import PROXY_PORT, PROXY_SOURCE
from sigma_exec.errors import SandboxError, SigmaExecError
from sigma_exec.settings import Settings
from sigma_exec.spec import ContainerSpec

log = logging.getLogger(__name__)
LABEL_EGRESS_FOR = "sigma.egress-for"
ROLE_EGRESS_PROXY = "egress-proxy"
PROXY_ALIAS = "sigma-proxy"


class Egress(BaseModel):
    network: str
    subnet: str
    proxy_id: str

    @property
    def proxy_url(self) -> str:
        return f"http://{PROXY_ALIAS}:{PROXY_PORT}"

    def environment(self) -> dict[str, str]:
        url = self.proxy_url
        return {"HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url, "https_proxy": url, "NO_PROXY": ""}


def effective_allowlist(requested: Iterable[str], operator: Iterable[str]) -> list[str]:
    """The policy's `host:port` entries that the operator's patterns also allow (pure)."""
    ceiling = [p.strip().lower() for p in operator if p.strip()]
    return [r.strip().lower() for r in requested if any(fnmatch.fnmatchcase(r.strip().lower(), p) for p in ceiling)]


def iptables_argv(action: str, subnet: str) -> list[str]:
    """Drop everything from an egress network to the host itself (pure)."""
    return ["iptables", action, "INPUT", "-s", subnet, "-m", "comment", "--comment", "sigma-egress", "-j", "DROP"]


def _firewall(action: str, subnet: str) -> None:
    if not shutil.which("iptables"):
        raise SandboxError("iptables is not installed: the host cannot be shielded from an egress network")
    proc = subprocess.run(iptables_argv(action, subnet), capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0 and action == "-I":
        raise SandboxError(f"cannot shield the host from {subnet}: {proc.stderr.strip()}")


def open_egress(backend: DockerBackend, settings: Settings, *, sandbox: ContainerSpec, allow: list[str]) -> Egress:
    """Network, firewall rule and proxy for one sandbox; nothing is left behind on failure."""
    if not backend.is_local:
        raise SandboxError("egress allow-lists need a local engine (the host firewall is set here)")
    name = f"sigma-egress-{uuid.uuid4().hex[:12]}"
    labels = {
        c.LABEL_MANAGED: "1",
        c.LABEL_PROJECT: sandbox.labels.get(c.LABEL_PROJECT, ""),
        c.LABEL_NODE: settings.node,
        LABEL_EGRESS_FOR: sandbox.name,
    }
    net = backend.create_network(name, labels, internal=True)
    proxy_id = None
    try:
        _firewall("-I", net["subnet"])
        proxy = sandbox.model_copy(
            update={
                "name": f"{name}-proxy",
                "command": ["python3", "-c", PROXY_SOURCE],
                "labels": {**sandbox.labels, **labels, c.LABEL_ROLE: ROLE_EGRESS_PROXY},
                "environment": {"SIGMA_EGRESS_ALLOW": ",".join(allow), "SIGMA_EGRESS_PORT": str(PROXY_PORT)},
                "mem_limit": 128 * 1024 * 1024,
                "memswap_limit": 128 * 1024 * 1024,
                "pids_limit": 64,
                "volumes": [],
                "network_mode": "bridge",
                "device_requests": [],
            }
        )
        proxy_id = backend.create_container(proxy)
        backend.connect(name, proxy_id, [PROXY_ALIAS])
        backend.start(proxy_id)
    except BaseException:
        close_egress(backend, name, net["subnet"], proxy_id)
        raise
    return Egress(network=name, subnet=net["subnet"], proxy_id=proxy_id)


def close_egress(backend: DockerBackend, network: str, subnet: str, proxy_id: str | None) -> None:
    """Best-effort teardown: proxy, network, firewall rule (each safe to repeat)."""
    with contextlib.suppress(SigmaExecError):
        if proxy_id:
            backend.remove(proxy_id)
    with contextlib.suppress(SigmaExecError):
        backend.remove_network(network)
    if subnet:
        with contextlib.suppress(SigmaExecError, OSError, subprocess.SubprocessError):
            _firewall("-D", subnet)


def close_egress_of(backend: DockerBackend, labels: dict[str, str]) -> list[str]:
    """Tear down every egress set-up carrying `labels` (e.g. one sandbox's or one project's)."""
    closed = []
    for net in backend.list_networks({c.LABEL_MANAGED: "1", **labels}):
        proxies = backend.list_containers({LABEL_EGRESS_FOR: (net.get("Labels") or {}).get(LABEL_EGRESS_FOR, "")})
        subnet = ((net.get("IPAM") or {}).get("Config") or [{}])[0].get("Subnet", "")
        for proxy in proxies:
            close_egress(backend, net["Name"], "", proxy["Id"])
        close_egress(backend, net["Name"], subnet, None)
        closed.append(net["Name"])
    return closed


def reap_orphan_egress(backend: DockerBackend, node: str) -> list[str]:
    """Tear down egress set-ups of this node whose sandbox no longer exists."""
    closed = []
    try:
        networks = backend.list_networks({c.LABEL_MANAGED: "1", c.LABEL_NODE: node})
        alive = set(backend.container_names({c.LABEL_MANAGED: "1"}).values())
    except SigmaExecError:
        return closed
    for net in networks:
        owner = (net.get("Labels") or {}).get(LABEL_EGRESS_FOR)
        if owner and owner not in alive:
            closed += close_egress_of(backend, {LABEL_EGRESS_FOR: owner})
    return closed


# ---- the opt-in bridge network ------------------------------------------------------------------
BRIDGE_NETWORK = "sigma-bridge"
BRIDGE_INTERFACE = "sigma0"
PRIVATE_RANGES = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,169.254.0.0/16,100.64.0.0/10"


def bridge_rules() -> list[list[str]]:
    """Rules for the opt-in bridge (pure): no traffic to the host itself, none to private ranges."""
    # Each rule is inserted at the top in turn, so the ESTABLISHED exception (replies to connections the
    # host itself opened) ends up above the DROP of everything a sandbox sends to the host.
    return [
        ["INPUT", "-i", BRIDGE_INTERFACE, "-m", "comment", "--comment", "sigma-bridge", "-j", "DROP"],
        [
            "INPUT",
            "-i",
            BRIDGE_INTERFACE,
            "-m",
            "conntrack",
            "--ctstate",
            "ESTABLISHED,RELATED",
            "-m",
            "comment",
            "--comment",
            "sigma-bridge",
            "-j",
            "ACCEPT",
        ],
        [
            "DOCKER-USER",
            "-i",
            BRIDGE_INTERFACE,
            "-d",
            PRIVATE_RANGES,
            "-m",
            "comment",
            "--comment",
            "sigma-bridge",
            "-j",
            "DROP",
        ],
    ]


def ensure_bridge(backend: DockerBackend, node: str) -> str:
    """The network for sandboxes that opt into a network: no inter-container traffic, host shielded.

    Docker's default bridge lets containers talk to each other and to every host service on the
    bridge address; this one has ICC off, and firewall rules drop traffic to the host and to private
    ranges (cloud metadata included). Idempotent.
    """
    if not any(net.get("Name") == BRIDGE_NETWORK for net in backend.list_networks({c.LABEL_MANAGED: "1"})):
        with contextlib.suppress(SandboxError):  # another worker created it at the same moment
            backend.create_network(
                BRIDGE_NETWORK,
                {c.LABEL_MANAGED: "1", c.LABEL_ROLE: "bridge"},
                internal=False,
                options={
                    "com.docker.network.bridge.enable_icc": "false",
                    "com.docker.network.bridge.name": BRIDGE_INTERFACE,
                },
            )
    if backend.is_local:
        for rule in bridge_rules():
            _ensure_rule(rule)
    else:
        log.warning("remote engine: the %s firewall rules must be installed on that host", BRIDGE_NETWORK)
    return BRIDGE_NETWORK


def _ensure_rule(rule: list[str]) -> None:
    if not shutil.which("iptables"):
        raise SandboxError("iptables is not installed: a bridge sandbox cannot be shielded from the host")
    check = subprocess.run(["iptables", "-C", *rule], capture_output=True, timeout=30, check=False)
    if check.returncode != 0:
        added = subprocess.run(["iptables", "-I", *rule], capture_output=True, text=True, timeout=30, check=False)
        if added.returncode != 0:
            raise SandboxError(f"cannot install firewall rule {' '.join(rule)}: {added.stderr.strip()}")
