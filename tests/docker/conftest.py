"""The container image, built and run on a real Docker engine with the host network.

Every test here is marked ``docker`` and kept out of ``make test``; ``.ci/run`` runs them after it
(``pytest -m docker tests/docker``), starting an engine first when none runs. Without an engine they
skip, saying so. Containers get unique names and are removed (with their anonymous volumes) by the
fixture that started them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("SENTINEL_TEST_IMAGE", "colab-sentinel:local")
# Debian's docker.io client has BuildKit built in; a newer client first on PATH may lack buildx.
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else (shutil.which("docker") or "docker")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


async def docker(*args: str, timeout: float = 120, check: bool = True) -> Result:  # noqa: ASYNC109
    """Run the docker client without blocking the event loop (the emulator serves from it)."""
    proc = await asyncio.create_subprocess_exec(
        DOCKER, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"docker {' '.join(args)} took over {timeout} s") from None
    result = Result(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))
    if check and result.code != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {result.code}: {result.text[-3000:]}")
    return result


def _engine_missing() -> str | None:
    if shutil.which(DOCKER) is None and not Path(DOCKER).exists():
        return "no docker client (Debian package docker.io)"
    try:
        info = subprocess.run(
            [DOCKER, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the docker client did not answer: {exc}"
    if info.returncode != 0:
        first = (info.stderr.strip().splitlines() or ["no answer"])[0]
        return (
            f"no Docker engine answers ({first}); .ci/run starts one (dockerd --bridge=none --iptables=false)"
        )
    return None


@pytest.fixture(scope="session")
def engine() -> None:
    reason = _engine_missing()
    if reason is not None:
        pytest.skip(reason)


@dataclass
class Build:
    result: Result
    seconds: float


@pytest.fixture(scope="session")
async def build(engine: None) -> Build:
    """``make image`` once per session (the engine's layer cache makes a rebuild take seconds).

    The image the tag named before, if the build moved the tag, is removed, so that CI runs on one
    machine do not pile up 2 GB images (shared layers stay: the cache keeps what the new one uses).
    """
    before = (await docker("image", "inspect", "-f", "{{.Id}}", IMAGE, check=False)).out.strip()
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        "make",
        "--no-print-directory",
        "image",
        f"IMAGE={IMAGE}",
        f"DOCKER={DOCKER}",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 1500)
    built = Build(Result(proc.returncode or 0, out.decode(errors="replace"), ""), time.monotonic() - started)
    after = (await docker("image", "inspect", "-f", "{{.Id}}", IMAGE, check=False)).out.strip()
    if before and after and before != after:
        await docker("rmi", before, check=False)  # refused (harmless) while a container uses it
    return built


@pytest.fixture(scope="session")
def image(build: Build) -> str:
    if build.result.code != 0:
        pytest.fail(f"make image failed:\n{build.result.out[-4000:]}")
    return IMAGE


@dataclass
class Containers:
    """Starts containers on the host network with unique names; removes them all at the end."""

    image: str
    names: list[str] = field(default_factory=list)

    async def start(self, *args: str, command: tuple[str, ...] = ()) -> str:
        name = f"sentinel-test-{uuid.uuid4().hex[:10]}"
        self.names.append(name)
        await docker(
            "run", "-d", "--name", name, "--network", "host", "--shm-size", "1g", *args, self.image, *command
        )
        return name

    async def logs(self, name: str) -> str:
        return (await docker("logs", name, check=False)).text

    async def inspect(self, name: str, template: str) -> str:
        return (await docker("inspect", "-f", template, name)).out.strip()

    async def remove_all(self) -> None:
        if self.names:
            await docker("rm", "-f", "-v", *self.names, check=False, timeout=60)
            self.names.clear()


@pytest.fixture
async def containers(image: str) -> AsyncIterator[Containers]:
    started = Containers(image)
    try:
        yield started
    finally:
        await started.remove_all()


@pytest.fixture
def compose_dir(tmp_path: Path) -> Iterator[Path]:
    """docker/compose.yaml and the example env file as sentinel.env, in a folder of their own."""
    folder = tmp_path / "docker"
    folder.mkdir()
    shutil.copy(REPO / "docker" / "compose.yaml", folder / "compose.yaml")
    shutil.copy(REPO / "docker" / "sentinel.env.example", folder / "sentinel.env")
    yield folder


def parse_json_lines(text: str) -> list[dict[str, Any]]:
    import json

    records = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records
