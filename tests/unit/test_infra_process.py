"""How the local infrastructure tells a running process from one that is gone."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from optimerge.infra._process import cmdline, is_alive, wait_while_exiting

# The main thread leaves (pthread_exit) while another runs on: the leader shows as a zombie
# with no command line, as a SIGKILLed JVM's does while its other threads still hold sockets.
_LEADER_EXITS_FIRST = (
    "import ctypes, threading, time\n"
    "threading.Thread(target=time.sleep, args=(1.0,)).start()\n"
    "ctypes.CDLL(None).pthread_exit(None)\n"
)


def _leader_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_process_whose_main_thread_has_exited_lives_until_its_last_thread_ends(
    tmp_path: Path,
) -> None:
    child = subprocess.Popen([sys.executable, "-c", _LEADER_EXITS_FIRST])
    try:
        deadline = time.monotonic() + 5
        while _leader_state(child.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _leader_state(child.pid) == "Z"
        assert cmdline(child.pid) == ""
        assert is_alive(child.pid)

        pidfile = tmp_path / "child.pid"
        pidfile.write_text(f"{child.pid}\n")
        wait_while_exiting(pidfile)
        assert not is_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def test_waiting_on_a_missing_or_garbled_pidfile_returns_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    wait_while_exiting(tmp_path / "none.pid")
    (tmp_path / "bad.pid").write_text("not a pid\n")
    wait_while_exiting(tmp_path / "bad.pid")
    assert time.monotonic() - started < 0.5


def test_a_stale_pid_now_a_kernel_threads_is_not_waited_for(tmp_path: Path) -> None:
    pidfile = tmp_path / "stale.pid"
    pidfile.write_text("2\n")  # kthreadd: alive, with no command line, never ours
    started = time.monotonic()
    wait_while_exiting(pidfile)
    assert time.monotonic() - started < 0.5
