"""Colab's selectors and texts: the ONLY place in the daemon that knows how Colab's page looks.

The defaults cover the three dialog generations (Polymer ``paper-dialog`` 2022, ``mwc-dialog`` +
``mwc-button`` 2023, ``mwc-dialog``/``md-dialog`` + ``md-text-button`` 2025) and fall back to generic
ARIA roles for the next one; sources and dates are in ``../shared/reference/colab-ui.md``. A user's
TOML file (``--selectors FILE``, see :mod:`sentinel.frontends.selectors`) can override or extend any
entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from sentinel.frontends.base import Action, Connection, Dialog
from sentinel.frontends.selectors import SelectorSet

DEFAULT_SELECTORS: Final = SelectorSet(
    css={
        # colab-ui.md 1.1: #connect inside the connect button's open shadow root (2020 -> 2026).
        "connect_button": (
            "colab-connect-button >>> #connect",
            "colab-connect-button >>> colab-toolbar-button",
            "#top-toolbar #connect",
        ),
        # Layer 2 of the connection (by meaning, any tag, any shadow depth): controls whose accessible
        # name or title matches texts.connect_control, outside every dialog and menu.
        "connect_control": ("button", "[role=button]"),
        # Something only Colab's page has (for --frontend auto), besides window.colab.global.notebook.
        "colab_marker": ("colab-connect-button", "#top-toolbar colab-toolbar-button", "colab-run-button"),
        # 3.1: every generation, then generic ARIA dialogs so a next generation is still seen.
        "dialog": (
            "mwc-dialog[open]",
            "md-dialog[open]",
            "colab-dialog paper-dialog",
            "paper-dialog[opened]",
            "dialog[open]",
            ".mdc-dialog--open",
            "[role=alertdialog]",
            "[role=dialog]",
        ),
        # Dialogs by meaning, whatever their tag: native <dialog> opened with showModal() (:modal, [open]),
        # ARIA modal surfaces. Looked up in every open shadow root, read through nested shadow roots.
        "dialog_semantic": (
            "dialog:modal",
            "dialog[open]",
            "[role=dialog]",
            "[role=alertdialog]",
            "[aria-modal=true]",
        ),
        # 3.3: the reCAPTCHA host; nothing inside it is ever clicked.
        "captcha": ("colab-recaptcha-dialog",),
        # AI panels (Gemini): nothing inside is a dialog sentinel answers, nor a place for its mouse;
        # their "Stop generating" interrupts the running cell (colabtools#5903). Tag unverified.
        "ai_panel": ("colab-gemini-panel", '[aria-label*="Gemini" i]'),
        "dialog_button": (
            "md-text-button",
            "md-filled-button",
            "md-outlined-button",
            "mwc-button",
            "paper-button",
            "button",
            "[role=button]",
        ),
        "primary_button": (
            "md-text-button[slot=primaryAction]",
            "md-filled-button[slot=primaryAction]",
            "mwc-button[slot=primaryAction]",
            "[dialogaction=ok]",
            "paper-button#ok",
            "#ok",
        ),
        "secondary_button": (
            "md-text-button[slot=secondaryAction]",
            "mwc-button[slot=secondaryAction]",
            "[dialogaction=cancel]",
            "paper-button#cancel",
            "#cancel",
        ),
        # 3.2: crash notifications are toasts, not dialogs.
        "toast": (
            "colab-toast",
            "mwc-snackbar[open]",
            "md-snackbar[open]",
            "paper-toast[opened]",
            "[role=alert]",
            "[role=status]",
        ),
        # 6: signed-out / signed-in markers (the obfuscated gb_* classes are deliberately left out).
        "sign_in_link": (
            'a[aria-label="Sign in"]',
            'a[href*="ServiceLogin"]',
            'a[href*="accounts.google.com/signin"]',
        ),
        "account_link": ('a[aria-label*="Google Account"]', 'a[href*="SignOutOptions"]'),
        # 4.1 / 4.2: cells, their run buttons, editors and outputs.
        "code_cell": (".cell.code", ".notebook-cell.code"),
        "running_cell": (
            ".cell.running",
            ".cell.pending",
            "colab-run-button[running]",
            "colab-run-button[pending]",
        ),
        "run_button": ("colab-run-button",),
        "editor_text": (".view-lines", ".monaco-editor"),
        "editor_focus": (".view-lines", ".monaco-editor textarea", ".inputarea"),
        "cell_output": (".output", "colab-static-output-renderer"),
        # 2.1: Runtime > Run all.
        "runtime_menu_button": ("#runtime-menu-button",),
        "run_all_item": ("#runtime-menu [command=runall]", "div.goog-menuitem[command=runall]"),
        "restart_item": ("#runtime-menu [command=restart]", "div.goog-menuitem[command=restart]"),
        "release_item": (
            "#runtime-menu [command=powerwash-current-vm]",
            "div.goog-menuitem[command=powerwash-current-vm]",
        ),
        # Mutations under these never change what the daemon watches (output streaming, typing).
        "ignore_mutations": (".output", ".monaco-editor", "colab-static-output-renderer"),
        # The keepalive's mouse never rests over these.
        "keepalive_avoid": (
            "a",
            "button",
            "input",
            "textarea",
            "select",
            "[role=button]",
            "[role=menuitem]",
            "[role=menu]",
            "[contenteditable]",
            "[tabindex]",
            ".monaco-editor",
            ".cell",
            "colab-connect-button",
            "colab-toolbar-button",
            "colab-run-button",
            "mwc-dialog",
            "md-dialog",
            "paper-dialog",
            "[role=dialog]",
            "[role=alertdialog]",
            "colab-recaptcha-dialog",
            "dialog",
            "[aria-modal=true]",
            # AI panels: Gemini's "Stop generating" interrupts the running cell (colabtools#5903), so
            # nothing sentinel does lands in them. Colab's tag is unverified: also by landmark and name.
            "colab-gemini-panel",
            "[role=complementary]",
            '[aria-label*="Gemini" i]',
        ),
        # 5: the Google consent popup.
        "oauth_account": ("[data-identifier]", "#profileIdentifier"),
    },
    texts={
        # 1.2: the connect button's innerText (whitespace collapsed).
        "connecting": (
            r"^(connecting|allocating|initiali[sz]ing|resuming|reconnecting)\b",
            r"^waiting for",
        ),
        "disconnected": (r"^(re)?connect\b",),
        "connected": (r"^$", r"\bRAM\b", r"\bDisk\b", r"^connected\b", r"^busy$"),
        # The connect control's accessible name or title, in any state (finds it by meaning when no
        # css.connect_button matches). "Connect to Google Drive" / "Connect without GPU" are dialog buttons.
        "connect_control": (
            r"^(re)?connect(?!\s+(to\s+google|without)\b)(\s+\w+){0,2}$",
            r"^(connecting|allocating|initiali[sz]ing|resuming|reconnecting)\b",
            r"^connected to\b",
            r"^connect to a (new|hosted) runtime\b",
        ),
        # 1.2: the control's tooltip (`tooltiptext`, else `title`), a sentence about the runtime.
        "tooltip_connected": (r"^connected to\b", r"\bRAM:\s*\d"),
        "tooltip_connecting": (r"^(connecting|allocating|initiali[sz]ing|resuming|reconnecting)\b",),
        "tooltip_disconnected": (r"^connect to\b", r"^(re)?connect\b", r"^not connected\b"),
        "crash_toast": (r"session crashed",),
        # 5: the consent popup's address (Google's, or the emulator's stand-in).
        "oauth_url": (r"^https://accounts\.google\.com/", r"/o/oauth2/", r"/oauth/consent\b"),
        # 2.1: the confirmations that Restart session and Disconnect and delete runtime may ask for.
        "restart_confirm": (r"restart (the )?(session|runtime)",),
        "release_confirm": (r"disconnect and delete", r"delete this runtime"),
    },
    dialogs={
        # 3.2, texts verbatim where known; several alternatives per dialog across generations.
        Dialog.RUNTIME_DISCONNECTED: (
            r"\bruntime disconnected\b",
            r"runtime has been disconnected",
            r"disconnected due to inactivity",
        ),
        Dialog.EXTERNAL_NOTEBOOK: (r"not authored by Google", r"authored by an unknown user"),
        Dialog.DRIVE_CONSENT: (r"access your Google Drive files", r"Connecting to Google Drive will permit"),
        Dialog.CREDENTIALS: (r"access your Google credentials",),
        Dialog.GPU_LIMIT: (
            r"cannot connect to GPU backend",
            r"connect to a GPU due to usage limits",
            r"not currently eligible for a GPU",
        ),
        Dialog.TOO_MANY_SESSIONS: (r"too many (active )?sessions", r"maximum number of sessions"),
        Dialog.SIGN_IN_REQUIRED: (r"sign-in required", r"must be logged in with a Google account"),
        Dialog.STILL_THERE: (r"are you still (there|here)",),
        Dialog.CAPTCHA: (r"recaptcha", r"not a robot"),
        Dialog.OOM_SWITCH: (r"high-RAM runtime\?",),
    },
    buttons={
        Action.RECONNECT: ("Reconnect",),
        Action.CLOSE: ("Close", "Dismiss", "Cancel", "OK"),
        Action.RUN_ANYWAY: ("Run anyway",),
        Action.CANCEL: ("Cancel",),
        Action.CONNECT: ("Connect to Google Drive", "Connect"),
        Action.ALLOW: ("Allow",),
        Action.NO_THANKS: ("No, thanks", "No thanks"),
        Action.YES: ("Yes",),
        Action.NO: ("No",),
        Action.CONNECT_WITHOUT_GPU: ("Connect without GPU",),
        # 2.1: the OK of a Restart session / Disconnect and delete runtime confirmation.
        "confirm": ("OK", "Yes", "Restart", "Restart session"),
        # 5: the consent popup's buttons, English first, then the localised labels seen.
        "oauth_select_all": ("Select all",),
        "oauth_continue": ("Continue", "Allow", "Continuar", "Permitir", "Zulassen", "Autoriser"),
    },
)

# Checked in this order, so a dialog whose text mentions two topics gets the one that needs a human.
DIALOG_ORDER: Final = (
    Dialog.CAPTCHA,
    Dialog.SIGN_IN_REQUIRED,
    Dialog.GPU_LIMIT,
    Dialog.TOO_MANY_SESSIONS,
    Dialog.RUNTIME_DISCONNECTED,
    Dialog.EXTERNAL_NOTEBOOK,
    Dialog.DRIVE_CONSENT,
    Dialog.CREDENTIALS,
    Dialog.STILL_THERE,
    Dialog.OOM_SWITCH,
)

# Which of a dialog's two buttons an action is, for the tag-only fallback (slot/dialogaction/#ok).
PRIMARY_ACTIONS: Final = frozenset(
    {
        Action.RECONNECT,
        Action.RUN_ANYWAY,
        Action.CONNECT,
        Action.ALLOW,
        Action.YES,
        Action.CONNECT_WITHOUT_GPU,
    }
)

# The texts the page script needs itself (to find the connect control by meaning); sent in its config.
PAGE_TEXTS: Final = ("connect_control",)

# The connection layers, most specific first; classify() lets the first one with a verdict speak for
# the page's drawing, then holds it against Colab's JS model (see _classify.combine_connection).
CONNECTION_LAYERS: Final = ("kernel", "tooltip", "button_text", "aria")

KERNEL_STATES: Final[Mapping[str, Connection]] = {
    "connected": Connection.CONNECTED,
    "allocating": Connection.CONNECTING,
    "connecting": Connection.CONNECTING,
    "initializing": Connection.CONNECTING,
    "connect": Connection.DISCONNECTED,
    "disconnected": Connection.DISCONNECTED,
}


def load_selectors(path: Path | None) -> SelectorSet:
    """Colab's default selectors with the user's TOML file applied (``None``: the defaults).

    Raises:
        ConfigError: the file is unreadable or malformed, or names an unknown table or key.
    """
    return DEFAULT_SELECTORS.with_file(path)
