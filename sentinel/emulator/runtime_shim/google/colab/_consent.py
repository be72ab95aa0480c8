"""The shim's one call back to the emulator: ask the page for consent and wait for the answer.

Runs inside the kernel (stdlib only); the emulator gives every kernel its URL and runtime id.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

# Colab waits up to an hour for the consent popup; the server answers within that.
_TIMEOUT = 3700.0


def request_consent(action: str, body: dict[str, object]) -> dict[str, object]:
    """POST ``body`` to ``/api/runtimes/<this runtime>/<action>`` and return the JSON reply.

    Blocks while the page shows its consent dialog and OAuth popup. Network and HTTP failures come
    back as ``{"ok": False, "error": ...}``.
    """
    base = os.environ.get("SENTINEL_EMULATOR_URL")
    runtime_id = os.environ.get("SENTINEL_RUNTIME_ID")
    if not base or not runtime_id:
        return {"ok": False, "error": "this kernel was not started by the sentinel emulator"}
    request = urllib.request.Request(  # noqa: S310  # http:// URL of our own server, from our env
        f"{base}/api/runtimes/{runtime_id}/{action}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310  # (same)
            reply = json.loads(response.read().decode())
    except urllib.error.HTTPError as exc:
        try:
            reply = json.loads(exc.read().decode())
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            reply = {"ok": False, "error": f"HTTP {exc.code}"}
    except (OSError, ValueError) as exc:
        return {"ok": False, "error": str(exc)}
    return reply if isinstance(reply, dict) else {"ok": False, "error": "malformed reply"}
