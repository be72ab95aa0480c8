"""``google.colab.auth`` for emulator runtimes: ``authenticate_user()`` runs the page's credentials consent flow.

Runs inside the kernel (stdlib only).
"""

from __future__ import annotations

from ._consent import request_consent

__all__ = ["authenticate_user"]


def authenticate_user(clear_output: bool = True, project_id: str | None = None) -> None:
    """Ask the page for credential access ("Allow this notebook to access your Google credentials?").

    Raises:
        ValueError: the user refused or the popup failed ("credential propagation was unsuccessful").
    """
    reply = request_consent("auth/authenticate", {})
    if not reply.get("ok"):
        reason = reply.get("error") or "unknown"
        raise ValueError(f"authentication failed: Error: credential propagation was unsuccessful ({reason})")
