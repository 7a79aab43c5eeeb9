"""A network namespace of the fault suite's own, joined to the host by a veth pair, so that one
worker can be cut off from the brokers and PostgreSQL while everything else runs on.

    host: <host_veth> 10.a.b.1/30  <-- veth -->  <ns_veth> 10.a.b.2/30 :namespace

The cluster listens on 10.a.b.1 (InfraSettings.listen_host), an address of the host: processes
on the host reach it locally, the worker in the namespace through the veth. The cut is
`ip link set <host_veth> down`: the pair loses its carrier, every packet either way is dropped
silently (no RST, no ICMP), as when a cable or a switch port dies; the host's own local route to
10.a.b.1 stays, so nothing on the host notices. `up` again ends the partition. One command each
way, atomic, no firewall rules to leave behind; iptables is not even installed here.

Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2's `ip`; fails with a clear message
otherwise. A namespace is named after the pid of the test session that made it, so one left by
a killed session is removed by the next (`remove_abandoned`)."""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

PREFIX = "optm"


class NetnsError(RuntimeError):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    ip = shutil.which("ip")
    if ip is None:
        raise NetnsError("`ip` (iproute2) not found: run scripts/setup.sh (Debian's iproute2)")
    done = subprocess.run([ip, *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise NetnsError(
            f"`ip {' '.join(args)}` failed (exit {done.returncode}): {done.stderr.strip()}. "
            "The isolation fault needs root with CAP_NET_ADMIN and CAP_SYS_ADMIN "
            "(network namespaces and veth pairs)."
        )
    return done


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned() -> None:
    """Delete namespaces (and with them their veth pairs) of test sessions that are gone."""
    listed = _ip("netns", "list", check=False).stdout
    for name in re.findall(rf"^({PREFIX}(\d+)x\w+)", listed, flags=re.MULTILINE):
        if not _alive(int(name[1])):
            _ip("netns", "del", name[0], check=False)


def _free_subnet(rng: random.Random) -> IPv4Network:
    used = _ip("-4", "-o", "addr", "show").stdout + _ip("-4", "route", "show").stdout
    for _ in range(200):
        octets = f"10.{rng.randint(200, 254)}.{rng.randint(0, 255)}"
        if f"{octets}." not in used:
            return IPv4Network(f"{octets}.0/30")
    raise NetnsError("no free 10.200-254.x.0/30 subnet for the namespace")


@dataclass(frozen=True)
class NetworkNamespace:
    name: str
    host_veth: str
    ns_veth: str
    network: IPv4Network

    @property
    def host_address(self) -> IPv4Address:
        return self.network.network_address + 1

    @property
    def ns_address(self) -> IPv4Address:
        return self.network.network_address + 2

    @classmethod
    def create(cls) -> NetworkNamespace:
        remove_abandoned()
        rng = random.Random()
        tag = f"{rng.getrandbits(20):05x}"
        # Interface names have at most 15 characters.
        ns = cls(f"{PREFIX}{os.getpid()}x{tag}", f"om{tag}h", f"om{tag}n", _free_subnet(rng))
        try:
            ns._build()
        except Exception:
            ns.delete()
            raise
        return ns

    def _build(self) -> None:
        prefix = self.network.prefixlen
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_veth, "type", "veth", "peer", "name", self.ns_veth)
        _ip("link", "set", self.ns_veth, "netns", self.name)
        _ip("addr", "add", f"{self.host_address}/{prefix}", "dev", self.host_veth)
        _ip("link", "set", self.host_veth, "up")
        inside = ("netns", "exec", self.name, "ip")
        _ip(*inside, "addr", "add", f"{self.ns_address}/{prefix}", "dev", self.ns_veth)
        _ip(*inside, "link", "set", self.ns_veth, "up")
        _ip(*inside, "link", "set", "lo", "up")

    def exec_prefix(self) -> tuple[str, ...]:
        """Prepended to a command line to run it inside the namespace (`ip netns exec` execs
        the command itself: its pid is the one to signal)."""
        ip = shutil.which("ip") or "ip"
        return (ip, "netns", "exec", self.name)

    def cut(self) -> None:
        _ip("link", "set", self.host_veth, "down")

    def restore(self) -> None:
        _ip("link", "set", self.host_veth, "up")

    def delete(self) -> None:
        with contextlib.suppress(NetnsError):
            _ip("netns", "del", self.name, check=False)
            _ip("link", "del", self.host_veth, check=False)
