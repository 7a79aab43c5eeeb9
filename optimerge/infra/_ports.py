"""Port checks: is it free, who holds it, which ones can the tests have."""

from __future__ import annotations

import errno
import os
import random
import socket
from pathlib import Path

from optimerge.infra._process import InfraError, cmdline


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option the JVM and postgres set: TIME_WAIT leftovers must not count as "in use".
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports nobody uses right now, below the ephemeral range: the kernel
    hands ephemeral ports to outgoing connections, which could take ours before we bind."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    candidates = list(range(20000, max(20001, ephemeral_low)))
    random.shuffle(candidates)
    chosen = [port for port in candidates[: count * 20] if not port_in_use(port, host)]
    if len(chosen) < count:
        raise InfraError(f"found no {count} free ports on {host} in 20000-{ephemeral_low}")
    return chosen[:count]


def free_port_block(count: int, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive free ports (a cluster's nodes use base + offset)."""
    for base in free_ports(50, host):
        if all(not port_in_use(port, host) for port in range(base, base + count)):
            return base
    raise InfraError(f"found no {count} consecutive free ports on {host}")


def listener_of(port: int) -> str | None:
    """Best effort 'pid 123 (cmd)' of whoever listens on `port`, for the error message."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            # State 0A is LISTEN; the local address ends in the port in hex.
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return f"pid {proc.name} ({cmdline(int(proc.name))[:160]})"
        except OSError:
            continue
    return "another process"


def port_conflict(what: str, port: int, setting: str, host: str = "127.0.0.1") -> InfraError:
    holder = listener_of(port)
    if holder is None:
        return InfraError(
            f"{what}: port {port} on {host} cannot be bound, though nothing listens on it "
            f"(a recent connection's local port, in TIME_WAIT for up to a minute?). "
            f"Retry shortly, or choose another port with {setting}=<port>."
        )
    return InfraError(
        f"{what}: port {port} on {host} is already in use by {holder}, which is not ours. "
        f"Stop it, or choose another port with {setting}=<port>."
    )
