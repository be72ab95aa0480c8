"""The image as a user meets it: built with ``make image``, run with the host network next to the emulator."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.async_api import Page

from sentinel.display import free_port
from sentinel.emulator.testing import EmulatorServer
from tests._novnc import novnc_screen
from tests.docker.conftest import IMAGE, REPO, Build, Containers, docker, parse_json_lines

pytestmark = [pytest.mark.docker, pytest.mark.slow]


async def _eventually_logged(containers: Containers, name: str, event: str, within: float = 60) -> dict:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        logs = await containers.logs(name)
        for record in parse_json_lines(logs):
            if record.get("event") == event:
                return record
        if await containers.inspect(name, "{{.State.Running}}") != "true":
            raise AssertionError(f"container {name} exited before logging {event}: {logs[-3000:]}")
        await asyncio.sleep(0.5)
    raise AssertionError(f"container {name} logged no {event} within {within} s: {logs[-3000:]}")


async def _stop(name: str) -> tuple[float, int]:
    """``docker stop`` (SIGTERM, SIGKILL after 10 s): seconds it took and the exit code."""
    started = time.monotonic()
    await docker("stop", name, timeout=30)
    elapsed = time.monotonic() - started
    code = int((await docker("inspect", "-f", "{{.State.ExitCode}}", name)).out.strip())
    return elapsed, code


@pytest.mark.timeout(1600)
def test_image_builds(build: Build) -> None:
    """`make image` (base made from Debian's packages when absent) builds colab-sentinel:local."""
    assert build.result.code == 0, build.result.out[-4000:]
    print(f"make image took {build.seconds:.0f} s")  # shown with -s: the cold or cached figure


async def test_image_metadata(image: str) -> None:
    """Non-root user, tini as the only entrypoint, exec-form `sentinel run`, the /data volume, a healthcheck."""
    config = json.loads((await docker("image", "inspect", "-f", "{{json .Config}}", image)).out)
    assert config["User"] == "sentinel"
    assert config["Entrypoint"] == ["/usr/bin/tini", "--"]
    assert config["Cmd"] == ["sentinel", "run"]
    assert "/data" in config["Volumes"]
    assert config["Healthcheck"]["Test"][0] == "CMD"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["SENTINEL_PROFILE"] == "/data/profile" and env["SENTINEL_STATE_DIR"] == "/data/state"
    assert env["SENTINEL_HEADLESS"] == "false"
    size = int((await docker("image", "inspect", "-f", "{{.Size}}", image)).out)
    print(f"image size {size / 1e9:.2f} GB")
    has_torch = await docker(
        "run",
        "--rm",
        "--network",
        "host",
        "--entrypoint",
        "python3",
        image,
        "-c",
        "import torch",
        check=False,
    )
    assert has_torch.code != 0, "the image is the daemon: no PyTorch"


async def test_daemon_container_keeps_a_host_notebook_alive(
    fresh_emulator: EmulatorServer, containers: Containers
) -> None:
    """1. `docker run IMAGE` with only SENTINEL_URLS connects an emulator notebook on the host and runs its
    resume cell. 2. An injected idle disconnect: reconnected and resumed. 3. Reported healthy, /status
    on the host's 127.0.0.1. 4. Runs as the non-root user; profile and state are 0700. 5. `docker stop`
    exits 0 within 10 s."""
    emu = fresh_emulator
    url = emu.notebook_url("hello")
    port = free_port()
    since = time.time()
    name = await containers.start(
        "-e", f"SENTINEL_URLS={url}", "-e", f"SENTINEL_STATUS_ADDR=127.0.0.1:{port}"
    )
    resumed = lambda e: "resum" in e.get("cell_id", "")  # noqa: E731
    await emu.wait_for_event("hello", "cell.started", since=since, timeout=90, predicate=resumed)
    launched = await _eventually_logged(containers, name, "browser.launched")
    assert launched["headless"] is False, "headed under Xvfb is the image's mode"
    await _eventually_logged(containers, name, "display.started")

    since = time.time()
    await emu.inject("hello", "idle_disconnect")
    await emu.wait_for_event("hello", "runtime.connected", since=since, timeout=60)
    await emu.wait_for_event("hello", "cell.started", since=since, timeout=60, predicate=resumed)

    deadline = time.monotonic() + 60
    while (health := await containers.inspect(name, "{{.State.Health.Status}}")) != "healthy":
        assert time.monotonic() < deadline, f"not healthy within 60 s: {health}"
        await asyncio.sleep(1)
    status = await asyncio.to_thread(_get_json, f"http://127.0.0.1:{port}/status")
    (notebook,) = status["notebooks"]
    assert notebook["url"] == url and notebook["reconnects"] >= 1

    whoami = await docker("exec", name, "sh", "-c", "id -un; stat -c '%a %U' /data/profile /data/state")
    assert whoami.out.split("\n")[:3] == ["sentinel", "700 sentinel", "700 sentinel"]
    processes = await docker("exec", name, "ps", "-eo", "user=,comm=")
    users = {line.split()[0] for line in processes.out.splitlines() if line.strip()}
    assert users == {"sentinel"}, processes.out

    elapsed, code = await _stop(name)
    assert code == 0, await containers.logs(name)
    assert elapsed < 10, f"docker stop took {elapsed:.1f} s"
    events = [r.get("event") for r in parse_json_lines(await containers.logs(name))]
    assert "daemon.stopped" in events and events[-1] == "display.stopped"


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


async def test_login_vnc_container_serves_novnc_showing_chromium(
    fresh_emulator: EmulatorServer, containers: Containers, page: Page, tmp_path: Path
) -> None:
    """`sentinel login --vnc` in the container: noVNC on 127.0.0.1 shows Chromium on the emulator page;
    `docker stop` ends it cleanly (profile saved, helpers stopped) within 10 s."""
    emu = fresh_emulator
    port = free_port()
    name = await containers.start(
        "-e",
        f"SENTINEL_VNC_PORT={port}",
        command=("sentinel", "login", "--vnc", "--url", emu.notebook_url("hello")),
    )
    vnc = await _eventually_logged(containers, name, "vnc.started")
    assert vnc["url"].startswith(f"http://127.0.0.1:{port}/vnc.html")
    await _eventually_logged(containers, name, "login.waiting")
    await novnc_screen(page, vnc["url"], tmp_path / "novnc-container.png")
    elapsed, code = await _stop(name)
    logs = await containers.logs(name)
    assert code == 0, logs[-3000:]
    assert elapsed < 10, f"docker stop took {elapsed:.1f} s"
    assert "Profile saved in /data/profile" in logs
    events = [r.get("event") for r in parse_json_lines(logs)]
    assert events[-3:] == ["login.done", "vnc.stopped", "display.stopped"]


# What the sample notebook's training imports from site-packages (torch pulls sympy in its optimizers).
LENT_PACKAGES = ("torch", "torchgen", "numpy", "sympy", "mpmath")


def _host_packages() -> list[Path] | None:
    """The host's PyTorch (and what it imports), to lend the torch-less image for the demo's training."""
    if sys.version_info[:2] != (3, 11):
        return None  # the image's Python is Debian bookworm's 3.11: compiled modules must match
    folders = []
    for name in LENT_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return None
        folders.append(Path(next(iter(spec.submodule_search_locations))))
    libs = folders[LENT_PACKAGES.index("numpy")].with_name("numpy.libs")
    if libs.is_dir():
        folders.append(libs)
    return folders


@pytest.mark.timeout(900)
async def test_demo_passes_inside_the_container(image: str) -> None:
    """`sentinel demo` (emulator, daemon and fault script, all inside the container) trains to the end.

    The image carries no PyTorch (it is the daemon); the sample notebook's training needs it, so the
    host's torch and numpy are mounted read-only into the image's site-packages for this run only.
    """
    folders = _host_packages()
    if folders is None:
        pytest.skip("needs PyTorch and numpy on the host's Python 3.11 to lend the container")
    site = "/opt/sentinel/lib/python3.11/site-packages"
    mounts = [arg for folder in folders for arg in ("-v", f"{folder}:{site}/{folder.name}:ro")]
    # Fail in seconds, not after the demo's whole duration, when the lent packages do not import.
    probe = "import torch, torch.optim; torch.optim.AdamW(torch.nn.Linear(2, 1).parameters())"
    check = await docker(
        "run", "--rm", "--network", "host", *mounts, image, "python", "-c", probe, check=False, timeout=120
    )
    assert check.code == 0, f"the host's PyTorch does not import in the image: {check.text[-2000:]}"
    name = f"sentinel-test-demo-{os.getpid()}"
    try:
        result = await docker(
            "run",
            "--rm",
            "--name",
            name,
            "--network",
            "host",
            "--shm-size",
            "1g",
            "-e",
            "COLUMNS=250",
            *mounts,
            image,
            "sentinel",
            "demo",
            "--duration",
            "300",
            timeout=500,
            check=False,
        )
    finally:
        await docker("rm", "-f", "-v", name, check=False)
    out = " ".join(result.out.split())
    assert result.code == 0, result.text[-4000:]
    assert "Training finished: step 2000/2000." in out, out[-3000:]
    assert "NOT RECOVERED" not in out and "Traceback" not in result.text


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="needs docker-compose (Debian package)")
def test_compose_file_is_valid_for_compose_v1(compose_dir: Path) -> None:
    """`docker-compose -f docker/compose.yaml config` accepts it: two services, host network, one volume."""
    import subprocess

    import yaml

    result = subprocess.run(
        ["docker-compose", "-f", str(compose_dir / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=compose_dir,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"sentinel", "login"}
    assert services["login"]["profiles"] == ["login"]
    assert services["login"]["command"] == ["sentinel", "login", "--vnc"]
    assert services["sentinel"]["restart"] == "unless-stopped"
    for service in services.values():
        assert service["network_mode"] == "host"  # status and noVNC bind 127.0.0.1 of the host
        assert service["image"] == IMAGE or service["image"] == "colab-sentinel:local"
        assert "sentinel-data:/data" in service["volumes"][0]
    assert "sentinel-data" in config["volumes"]
    assert (REPO / "docker" / "compose.yaml").read_text().find("\nname:") == -1, "compose v1 rejects `name:`"
