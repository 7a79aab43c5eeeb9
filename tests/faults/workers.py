"""Worker processes with static instance ids (w0, w1, ...): killed, terminated, paused and
replaced under the same id, as a pod would be; any exit the suite did not cause is recorded. A
slot may run its worker under a command prefix (inside a network namespace, say)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from config import ResolvedSettings
from tests.fix_worker import WorkerProcess


@dataclass
class Slot:
    instance_id: str
    process: WorkerProcess | None = None
    starts: int = 0
    # Times (wall clock) this slot's worker was stopped by the suite, and restarted.
    downs: list[float] = field(default_factory=list)
    ups: list[float] = field(default_factory=list)
    prefix: tuple[str, ...] = ()


class WorkerPool:
    def __init__(
        self,
        settings: ResolvedSettings,
        log_dir: Path,
        count: int,
        static: bool,
        prefixes: dict[int, tuple[str, ...]] | None = None,
    ) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.static = static
        self.slots = [Slot(f"w{i}", prefix=(prefixes or {}).get(i, ())) for i in range(count)]
        self.unexpected_exits: list[str] = []

    def start(self, index: int) -> None:
        slot = self.slots[index]
        args = ("--instance-id", slot.instance_id) if self.static else ()
        log = self.log_dir / f"{slot.instance_id}-{slot.starts}.log"
        slot.process = WorkerProcess(self.settings, log, self.log_dir, args, slot.prefix)
        slot.starts += 1
        slot.ups.append(time.time())

    def start_all(self) -> None:
        for index in range(len(self.slots)):
            self.start(index)

    def wait_ready(self, index: int, timeout: float = 90.0) -> None:
        """Until the worker's faust says it is ready: a SIGTERM before that (on a loaded machine
        the imports alone take seconds) meets Python's default action, and a server killed
        meanwhile fails its start checks, neither of which is the fault meant."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.slots[index].process
            if process is None or process.proc.poll() is not None:
                return  # gone: check_exits records it
            if "[^_Worker]: Ready" in process.log_text():
                return
            time.sleep(0.2)

    def wait_all_ready(self) -> None:
        for index in self.alive():
            self.wait_ready(index)

    def alive(self) -> list[int]:
        return [i for i, s in enumerate(self.slots) if s.process and s.process.proc.poll() is None]

    def check_exits(self) -> None:
        """Record workers that exited without the suite stopping them (they must never)."""
        for slot in self.slots:
            process = slot.process
            if process is not None and process.proc.poll() is not None:
                self.unexpected_exits.append(
                    f"{slot.instance_id} exited with {process.proc.returncode}: "
                    f"{process.log_text()[-2000:]}"
                )
                slot.process = None

    def kill(self, index: int) -> None:
        self.check_exits()
        slot = self.slots[index]
        assert slot.process is not None
        slot.downs.append(time.time())
        slot.process.kill()
        slot.process = None

    def terminate(self, index: int, timeout: float = 10.0) -> float:
        """SIGTERM; returns how long the worker took to exit (the contract says < 10 s)."""
        self.check_exits()
        slot = self.slots[index]
        assert slot.process is not None
        slot.downs.append(time.time())
        started = time.monotonic()
        code = slot.process.stop(timeout)
        took = time.monotonic() - started
        if code != 0:
            self.unexpected_exits.append(f"{slot.instance_id} exited {code} on SIGTERM")
        slot.process = None
        return took

    def pause(self, index: int) -> None:
        """SIGSTOP: the process keeps its sockets, its partitions (as it believes) and any
        transaction it is in, and does nothing at all until `resume`."""
        process = self.slots[index].process
        assert process is not None
        os.kill(process.proc.pid, signal.SIGSTOP)

    def resume(self, index: int) -> None:
        process = self.slots[index].process
        assert process is not None
        os.kill(process.proc.pid, signal.SIGCONT)

    def log_text(self, index: int) -> str:
        process = self.slots[index].process
        return process.log_text() if process is not None else ""

    def close(self) -> None:
        for slot in self.slots:
            if slot.process is not None:
                slot.process.close()
