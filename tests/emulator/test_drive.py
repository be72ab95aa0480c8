"""The Drive mount flow, server half: the shim asks, the page answers, Drive files outlive runtimes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp
from playwright.async_api import Page, expect

from sentinel.emulator.testing import EmulatorServer
from tests.emulator._browser import click_closing, open_notebook, output, run_cell, set_cell_text
from tests.emulator._pagesocket import PageSocket, page_socket

MOUNT = "from google.colab import drive\ndrive.mount('/content/drive')"
ALREADY = (
    "Drive already mounted at /content/drive; to attempt to forcibly remount, "
    'call drive.mount("/content/drive", force_remount=True).\n'
)


async def _mount_with_consent(page: PageSocket, *, ok: bool = True, error: str = "") -> tuple[str, dict]:
    start = page.mark()
    await page.send(type="execute", cell_id="mount", code=MOUNT)
    request = await page.wait_type("drive_request", after=start)
    assert request["kind"] == "drive"
    await page.send(type="drive_consent", request=request["request"], ok=ok, error=error)
    done = await page.wait_type("cell", after=start, cell_id="mount", state="idle")
    return page.output_text("mount", after=start), done


async def test_mount_links_my_drive_and_files_survive_a_new_runtime(tmp_path: Path) -> None:
    """Consent -> "Mounted at /content/drive"; MyDrive is the Drive folder; a new runtime must mount again."""
    drive = tmp_path / "drive"
    drive.mkdir()
    async with EmulatorServer(drive_dir=drive, allocation_delay=0.0) as emu, page_socket(emu) as page:
        first = await page.connect()
        text, done = await _mount_with_consent(page)
        assert (text, done["error"]) == ("Mounted at /content/drive\n", False)
        write = (
            "import os\n"
            "root = os.environ['SENTINEL_COLAB_CONTENT_ROOT']\n"
            "link = os.path.join(root, 'drive', 'MyDrive')\n"
            "open(os.path.join(link, 'ckpt.txt'), 'w').write('epoch 3')\n"
            "print(os.path.islink(link), os.path.realpath(link))"
        )
        text, _ = await page.run("write", write)
        assert text == f"True {drive.resolve()}\n"
        assert (drive / "ckpt.txt").read_text() == "epoch 3"
        text, _ = await page.run("again", MOUNT)
        assert text == ALREADY

        await page.send(type="disconnect", reason="user")
        second = await page.connect()
        assert second != first
        check = (
            "import os\n"
            "root = os.environ['SENTINEL_COLAB_CONTENT_ROOT']\n"
            "print(os.path.exists(os.path.join(root, 'drive')))"
        )
        text, _ = await page.run("fresh", check)
        assert text == "False\n", "a new runtime starts without the mount"
        text, _ = await _mount_with_consent(page)
        assert text == "Mounted at /content/drive\n"
        text, _ = await page.run(
            "read",
            "import os\nprint(open(os.environ['SENTINEL_COLAB_CONTENT_ROOT'] + '/drive/MyDrive/ckpt.txt').read())",
        )
        assert text == "epoch 3\n"
        assert (drive / "ckpt.txt").read_text() == "epoch 3", (
            "deleting the old runtime's /content kept Drive files"
        )
        kinds = [e["kind"] for e in await emu.events("hello") if e["kind"].startswith("drive.")]
    assert kinds == [
        "drive.mount_requested",
        "drive.mounted",
        "drive.mount_requested",
        "drive.mounted",
    ]


async def test_refused_consent_fails_the_cell_with_credential_propagation(
    fresh_emulator: EmulatorServer,
) -> None:
    """ "No, thanks": the cell raises ValueError("mount failed ... credential propagation was unsuccessful")."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        await page.connect()
        text, done = await _mount_with_consent(page, ok=False, error="user-declined")
    assert done["error"] is True
    assert "ValueError: mount failed: Error: credential propagation was unsuccessful (user-declined)" in text
    refused = await emu.wait_for_event("hello", "drive.refused")
    assert refused["error"] == "user-declined"
    assert refused["request_kind"] == "drive"


async def test_a_page_that_connects_late_still_gets_the_pending_drive_request(
    fresh_emulator: EmulatorServer,
) -> None:
    """A reloaded page is sent the Drive request that is still waiting, and can answer it."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        await page.connect()
        start = page.mark()
        await page.send(type="execute", cell_id="mount", code=MOUNT)
        first = await page.wait_type("drive_request", after=start)
    async with page_socket(emu) as reloaded:
        again = await reloaded.wait_type("drive_request")
        assert again["request"] == first["request"]
        await reloaded.send(type="drive_consent", request=again["request"], ok=True)
        finished = await emu.wait_for_event(
            "hello", "cell.finished", predicate=lambda e: e["cell_id"] == "mount"
        )
        assert finished["error"] is False
        assert reloaded.output_text("mount") == "Mounted at /content/drive\n"


async def test_authenticate_user_asks_for_credentials_consent(fresh_emulator: EmulatorServer) -> None:
    """`auth.authenticate_user()` sends a `credentials` request; consent lets the cell finish."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        await page.connect()
        start = page.mark()
        await page.send(
            type="execute",
            cell_id="auth",
            code="from google.colab import auth\nauth.authenticate_user()\nprint('ok')",
        )
        request = await page.wait_type("drive_request", after=start)
        assert request["kind"] == "credentials"
        await page.send(type="drive_consent", request=request["request"], ok=True)
        done = await page.wait_type("cell", after=start, cell_id="auth", state="idle")
        assert (page.output_text("auth", after=start), done["error"]) == ("ok\n", False)


async def test_drive_api_refuses_unknown_runtimes_and_bad_bodies(fresh_emulator: EmulatorServer) -> None:
    """Only a live runtime may ask; its body needs a mountpoint."""
    emu = fresh_emulator
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{emu.base_url}/api/runtimes/nope/drive/mount", json={"mountpoint": "/x"}
        ) as r:
            assert (r.status, await r.json()) == (404, {"ok": False, "error": "unknown runtime 'nope'"})
        async with page_socket(emu) as page:
            runtime_id = await page.connect()
            async with session.post(f"{emu.base_url}/api/runtimes/{runtime_id}/drive/mount", json={}) as r:
                assert (r.status, await r.json()) == (400, {"ok": False, "error": "missing 'mountpoint'"})
            async with session.post(f"{emu.base_url}/api/runtimes/{runtime_id}/drive/mount", data=b"{") as r:
                assert r.status == 400
                assert json.loads(await r.text())["error"].startswith("invalid JSON body")


async def _consent_in_popup(page: Page, emu: EmulatorServer, cell_id: str) -> Page:
    """Run the cell, accept the in-page dialog and return the OAuth popup it opened."""
    since = time.time()
    await page.locator(f"#cell-{cell_id} colab-run-button").click()
    await emu.wait_for_event("hello", "drive.mount_requested", since=since, timeout=30)
    dialog = page.get_by_role("dialog", name="Permit this notebook to access your Google Drive files?")
    async with page.context.expect_page() as popup_info:
        await dialog.get_by_role("button", name="Connect to Google Drive").click()
    popup = await popup_info.value
    await popup.wait_for_load_state()
    return popup


async def test_drive_consent_popup_flow_end_to_end_in_chromium(
    fresh_emulator: EmulatorServer, page: Page, tmp_path: Path
) -> None:
    """1. drive.mount() shows the consent dialog; "Connect to Google Drive" opens the OAuth popup.
    2. Account tile -> "Select all" -> "Continue": the cell prints "Mounted at /content/drive".
    3. A file written under MyDrive is in the Drive folder and survives a runtime reset.
    """
    emu = fresh_emulator
    marker = f"e2e-{tmp_path.name}.txt"
    await open_notebook(page, emu)
    popup = await _consent_in_popup(page, emu, "hello4drive1")
    await popup.locator('[data-identifier="user@example.com"]').click()
    await popup.get_by_label("Select all").check()
    await click_closing(popup.get_by_role("button", name="Continue"))
    mounted = await emu.wait_for_event("hello", "drive.mounted")
    assert mounted["request_kind"] == "drive"
    await expect(output(page, "hello4drive1")).to_have_text("Mounted at /content/drive")

    write = (
        "import os\n"
        "path = os.path.join(os.environ['SENTINEL_COLAB_CONTENT_ROOT'], 'drive', 'MyDrive', "
        + repr(marker)
        + ")\n"
        "open(path, 'w').write('survives')\nprint('wrote', os.path.islink(os.path.dirname(path)))"
    )
    await set_cell_text(page, "hello1state1", write)
    assert (await run_cell(page, emu, "hello1state1"))["error"] is False
    await expect(output(page, "hello1state1")).to_have_text("wrote True")
    assert (emu.drive_dir / marker).read_text() == "survives"

    since = time.time()
    await emu.inject("hello", "crash_oom")
    await emu.wait_for_event("hello", "runtime.connected", since=since)
    read = (
        "import os\n"
        "root = os.environ['SENTINEL_COLAB_CONTENT_ROOT']\n"
        "print(os.path.exists(os.path.join(root, 'drive')))"
    )
    await set_cell_text(page, "hello1state1", read)
    await run_cell(page, emu, "hello1state1")
    await expect(output(page, "hello1state1")).to_have_text("False")
    assert (emu.drive_dir / marker).read_text() == "survives"
    (emu.drive_dir / marker).unlink()


async def test_declining_in_the_popup_fails_the_mount_cell(
    fresh_emulator: EmulatorServer, page: Page
) -> None:
    """Cancel in the OAuth popup: the cell fails with "credential propagation was unsuccessful"."""
    emu = fresh_emulator
    await open_notebook(page, emu)
    popup = await _consent_in_popup(page, emu, "hello4drive1")
    await popup.locator('[data-identifier="user@example.com"]').click()
    await click_closing(popup.get_by_role("button", name="Cancel"))
    refused = await emu.wait_for_event("hello", "drive.refused")
    assert refused["error"] == "access-denied"
    finished = await emu.wait_for_event(
        "hello", "cell.finished", predicate=lambda e: e["cell_id"] == "hello4drive1"
    )
    assert finished["error"] is True
    await expect(output(page, "hello4drive1")).to_contain_text(
        "ValueError: mount failed: Error: credential propagation was unsuccessful"
    )
