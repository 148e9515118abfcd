"""Java for Kafka, the metastore and Spark: found once, version checked, classpaths from Maven."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from deploy.paths import DEPLOY_DIR, TOOLS_DIR
from deploy.stack.errors import StackError

MIN_JAVA = 17
CLASSPATH_DIR = TOOLS_DIR / "classpath"


@cache
def java_binary() -> str:
    """java_binary is a Java 17+ executable from JAVA_HOME or PATH, or a StackError saying so."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise StackError(
            "Java not found: Kafka and Spark need Java 17 or newer "
            "(install openjdk-17-jre-headless or set JAVA_HOME)"
        )
    result = subprocess.run([candidate, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', result.stderr)
    if match is None or int(match.group(1)) < MIN_JAVA:
        raise StackError(f"{candidate} is not Java {MIN_JAVA}+: {result.stderr.strip()[:200]}")
    return candidate


def classpath(component: str) -> list[Path]:
    """classpath lists the jars of deploy/<component>/pom.xml, resolving them with Maven once.

    Maven keeps the jars in ~/.m2; the resolved list is cached under .tools/classpath.
    """
    listing = CLASSPATH_DIR / f"{component}.txt"
    jars = _read_listing(listing)
    if jars and all(jar.exists() for jar in jars):
        return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("mvn not found: install maven to fetch the Kafka and Spark jars")
    CLASSPATH_DIR.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(DEPLOY_DIR / component / "pom.xml"),
            "dependency:build-classpath",
            f"-Dmdep.outputFile={listing}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    jars = _read_listing(listing)
    if result.returncode != 0 or not jars:
        raise StackError(
            f"could not fetch the {component} jars from Maven Central: "
            f"{(result.stdout + result.stderr).strip()[-1500:]}"
        )
    return jars


def _read_listing(listing: Path) -> list[Path]:
    """_read_listing parses a Maven classpath file into jar paths."""
    try:
        text = listing.read_text().strip()
    except OSError:
        return []
    return [Path(entry) for entry in text.split(os.pathsep) if entry]


def resolve_all() -> None:
    """resolve_all fetches every jar list the stack and Spark need (run by the bootstrap)."""
    for component in ("kafka", "metastore", "spark"):
        print(f"{component}: {len(classpath(component))} jars")


if __name__ == "__main__":
    resolve_all()
