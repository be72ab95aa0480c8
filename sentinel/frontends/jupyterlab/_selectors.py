"""JupyterLab 4's and Notebook 7's selectors and texts: the ONLY place that knows how their page looks.

Observed on jupyterlab 4.6 and notebook 7.6 (the same code base); see
``../shared/reference/jupyterlab.md``. A user's TOML file (``--selectors FILE``, see
:mod:`sentinel.frontends.selectors`) can override or extend any entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from sentinel.frontends.selectors import SelectorSet

DEFAULT_SELECTORS: Final = SelectorSet(
    css={
        # Something only a Jupyter page has (for --frontend auto): the server's page config, the shells.
        "app_marker": ("script#jupyter-config-data", ".jp-LabShell", ".jp-NotebookShell"),
        # jupyter_server's login page (a wrong or expired token redirects to /login?next=...).
        "login": ("#token_input", "#password_input", "form[action*='/login']"),
        # JupyterLab reopens the last session's tabs: only the visible notebook panel counts.
        "notebook_panel": (".jp-NotebookPanel:not(.lm-mod-hidden)",),
        # The toolbar's kernel name button ("Python 3 (ipykernel)" or "No Kernel"); opens Select Kernel.
        "kernel_name": (
            "[data-jp-item-name=kernelName] jp-button",
            ".jp-KernelName jp-button",
            ".jp-KernelName",
        ),
        # The toolbar's execution indicator: data-status idle / busy / starting / disconnected / unknown.
        "execution_indicator": (".jp-Notebook-ExecutionIndicator",),
        "cell": (".jp-Notebook .jp-Cell",),
        "code_cell": (".jp-CodeCell",),
        # Clicking a cell's input prompt selects it in command mode (no editor gets focus).
        "input_prompt": (".jp-InputPrompt",),
        "cell_source": (".jp-InputArea-editor .cm-content", ".jp-InputArea-editor"),
        "cell_output": (".jp-OutputArea",),
        "dialog": ("dialog.jp-Dialog", ".jp-Dialog"),
        "dialog_header": (".jp-Dialog-header",),
        "dialog_button": (".jp-Dialog-button",),
        "kernel_select": (".jp-Dialog-body select",),
        # Empty places to hover for the keep-alive: the toolbar's spacer, the status bar.
        "menu_bar_item": (".lm-MenuBar-item",),
        "menu_item": (".lm-Menu-item",),
        "neutral": (".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-spacer", "#jp-main-statusbar"),
    },
    texts={
        "no_kernel": (r"^\s*No Kernel\s*$",),
        "running_prompt": (r"\[\*\]",),
        # Indicator states of a kernel on its way (not a dead one).
        "indicator_connecting": (r"^(starting|restarting|autorestarting|unknown|initializing)$",),
        "indicator_disconnected": (r"^(disconnected|dead)$",),
        "indicator_busy": (r"^busy$",),
        # Menu bar entries (JupyterLab and Notebook 7 share them) and their items.
        "run_menu": (r"^Run$",),
        "run_all_item": (r"^Run All Cells",),
        "kernel_menu": (r"^Kernel$",),
        "restart_item": (r"^Restart Kernel(\.\.\.|…)?$",),
        "shutdown_item": (r"^Shut Down Kernel$",),
    },
    dialogs={
        # The kernel died (it restarts by itself), the server went away, or a kernel is to be chosen:
        # in each a person clicks the harmless button (Ok / Dismiss) or picks the notebook's kernel.
        "runtime_disconnected": (
            r"Kernel Restarting",
            r"appears to have died",
            r"Dead kernel",
            r"Server Connection Error",
            r"Kernel Restarted",
        ),
        "select_kernel": (r"^\s*Select Kernel",),
    },
    buttons={
        # Only buttons that change nothing: never "Restart", "Shut Down" or "No Kernel".
        "dismiss": ("Ok", "Dismiss", "Close"),
        "select": ("Select", "Select Kernel"),
        # Confirmations of commands the user asked for (--on-finish release, a restart retry).
        "restart_confirm": ("Restart",),
        "shutdown_confirm": ("Shut Down",),
    },
)


def load_selectors(path: Path | None) -> SelectorSet:
    """JupyterLab's default selectors with the user's TOML file applied (``None``: the defaults).

    Raises:
        ConfigError: the file is unreadable or malformed, or names an unknown table or key.
    """
    return DEFAULT_SELECTORS.with_file(path)
