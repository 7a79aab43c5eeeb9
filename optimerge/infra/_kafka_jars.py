"""The broker's classpath: jars copied from Maven Central into a cache outside the repository."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import time
from pathlib import Path

from optimerge.infra._process import InfraError, Log

# The pinned pom and the broker's log4j2 config ship inside the package (a wheel needs them).
JVM_DIR = Path(__file__).resolve().parent / "jvm"
_MARKER = ".complete"


def mvn_argv(mvn: str, version: str, libs: Path, pom: Path) -> list[str]:
    return [
        mvn, "-q", "-B", "-f", str(pom), f"-Dkafka.version={version}",
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={libs}",
    ]  # fmt: skip


def resolve_kafka_jars(cache_dir: Path, version: str, log: Log) -> Path:
    """`<cache_dir>/kafka-<version>/libs`, resolved on the first call and reused afterwards."""
    jar_dir = cache_dir / f"kafka-{version}"
    libs = jar_dir / "libs"
    # The marker is written last: a copy interrupted half-way is redone.
    if (jar_dir / _MARKER).exists():
        return libs
    mvn = shutil.which("mvn")
    if not mvn or not shutil.which("java"):
        raise InfraError("Kafka needs `java` and `mvn` on PATH: run scripts/setup.sh")
    jar_dir.mkdir(parents=True, exist_ok=True)
    # Two sessions resolving at once would copy into the same directory.
    with (cache_dir / f"kafka-{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (jar_dir / _MARKER).exists():
            return libs
        log(f"resolving Kafka {version} jars from Maven Central into {libs} (first run only)")
        shutil.rmtree(libs, ignore_errors=True)
        started = time.monotonic()
        # Maven writes beside its pom: a copy in the cache, so the installed package stays clean.
        pom = jar_dir / "pom.xml"
        shutil.copyfile(JVM_DIR / "pom.xml", pom)
        argv = mvn_argv(mvn, version, libs, pom)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
            output = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
            raise InfraError(
                f"could not resolve Kafka {version} from Maven Central (mvn exit "
                f"{done.returncode}; is the version right and the network up?):\n{output}"
            )
        (jar_dir / _MARKER).write_text(" ".join(argv) + "\n")
        log(f"Kafka jars ready in {time.monotonic() - started:.1f} s")
    return libs
