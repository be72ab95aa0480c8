"""Recognise why a Colab cell failed, from its output text (stdlib only; also runs inside the kernel).

The troubleshooting table is data (`RULES`): each `Rule` has regular expressions, the cause in one
sentence and the corrective action. `diagnose()` strips terminal colours and returns one `Diagnosis`
per rule that matches, most specific first; a generic Python traceback comes last and names the
exception it ended with. Nothing in the daemon calls it yet (the error watch will read the resume
cell's output with it); users can call it directly, as below::

    >>> from sentinel.diagnosis import diagnose
    >>> diagnose("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB")[0].key
    'cuda_oom'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["RULES", "Diagnosis", "Rule", "diagnose"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the troubleshooting table.

    Args:
        key: Stable identifier, e.g. ``"cuda_oom"``.
        patterns: Regular expressions (case-insensitive, multi-line); any one matching is enough.
        cause: What went wrong, in one sentence.
        action: What to do about it.
        retryable: Whether running the resume cell again, unchanged, on a fresh runtime may succeed.
    """

    key: str
    patterns: tuple[str, ...]
    cause: str
    action: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A recognised failure.

    Args:
        key: The `Rule` key that matched.
        cause: What went wrong (for tracebacks it names the exception).
        action: The corrective action.
        match: The output line that matched, without colours, at most 300 characters.
        retryable: Copied from the rule.
    """

    key: str
    cause: str
    action: str
    match: str
    retryable: bool


RULES: tuple[Rule, ...] = (
    Rule(
        key="cuda_oom",
        patterns=(
            r"CUDA out of memory",
            r"OutOfMemoryError: CUDA",
            r"CUDA error: out of memory",
            r"CUBLAS_STATUS_ALLOC_FAILED",
        ),
        cause="The GPU ran out of memory.",
        action=(
            "Lower the batch size and keep the effective batch with gradient accumulation, train in mixed "
            "precision (torch.autocast with a GradScaler), free tensors you no longer need (del x; "
            "torch.cuda.empty_cache()), then run the resume cell again: it continues from the last checkpoint."
        ),
        retryable=False,
    ),
    Rule(
        key="cudnn_internal_error",
        patterns=(r"CUDNN_STATUS_INTERNAL_ERROR", r"CUDNN_STATUS_EXECUTION_FAILED"),
        cause=(
            "cuDNN failed inside the GPU library; usually GPU memory is exhausted or fragmented, "
            "sometimes the runtime's GPU state is broken."
        ),
        action=(
            "Restart the runtime (Runtime > Restart session), lower the batch size, and if it happens again "
            "set torch.backends.cudnn.benchmark = False; then run the resume cell again."
        ),
        retryable=True,
    ),
    Rule(
        key="cuda_device_error",
        patterns=(r"device-side assert triggered", r"an illegal memory access was encountered"),
        cause=(
            "A CUDA kernel failed (a device-side assert, often a label or index out of range), and the "
            "CUDA context of this runtime is now unusable."
        ),
        action=(
            "Restart the runtime, run once on the CPU or with CUDA_LAUNCH_BLOCKING=1 to see the failing line, "
            "and fix the labels or indices it points at."
        ),
        retryable=False,
    ),
    Rule(
        key="drive_disconnected",
        patterns=(r"Transport endpoint is not connected", r"\[Errno 107\]"),
        cause="The Google Drive mount went stale: its FUSE connection dropped.",
        action=(
            "Remount Drive with drive.mount('/content/drive', force_remount=True) (setup_persistence() does "
            "this with bounded retries) and run the resume cell again; if it keeps failing, restart the runtime."
        ),
        retryable=True,
    ),
    Rule(
        key="ram_exhausted",
        patterns=(r"Your session crashed after using all available RAM",),
        cause="The runtime used all of its RAM and Colab restarted it.",
        action=(
            "Use less host memory: load data lazily (a Dataset that reads from disk, memory-mapped arrays), "
            "fewer DataLoader workers and a smaller prefetch_factor, del large objects; the resume cell then "
            "continues from the last checkpoint."
        ),
        retryable=True,
    ),
    Rule(
        key="kernel_died",
        patterns=(
            r"The kernel appears to have died",
            r"Kernel died",
            r"Kernel restarting",
            r"Your session crashed for an unknown reason",
            r"Restarting kernel",
        ),
        cause="The runtime's Python process died (often out of memory, or a crash in native code).",
        action=(
            "Run the resume cell again on the restarted runtime; if it dies at the same point again, reduce "
            "memory use or look for a native crash (a segfault in an extension)."
        ),
        retryable=True,
    ),
    Rule(
        key="gpu_unavailable",
        patterns=(
            r"No CUDA GPUs are available",
            r"cannot currently connect to a GPU",
            r"Found no NVIDIA driver",
        ),
        cause="This runtime has no GPU (a CPU runtime, or Colab's GPU usage limit was reached).",
        action=(
            "Change the runtime type to a GPU, wait for the usage limit to reset, or let the code fall back "
            "to the CPU (torch.device('cuda' if torch.cuda.is_available() else 'cpu'))."
        ),
        retryable=False,
    ),
    Rule(
        key="disk_full",
        patterns=(r"No space left on device", r"\[Errno 28\]", r"Disk quota exceeded"),
        cause="A disk is full: the runtime's local disk, or the Google Drive quota.",
        action=(
            "Free space: keep fewer checkpoints (Checkpointer(keep=2)), delete old runs from Drive and empty "
            "Drive's trash, and keep scratch files out of Drive."
        ),
        retryable=False,
    ),
    Rule(
        key="checkpoint_lease_held",
        patterns=(r"LeaseHeldError",),
        cause="Another runtime holds the lease of this project's checkpoint folder.",
        action=(
            "Stop the other runtime (Runtime > Manage sessions) or wait until its lease goes stale; pass "
            "take_over=True to Checkpointer only when you are sure it is gone."
        ),
        retryable=False,
    ),
    Rule(
        key="module_not_found",
        patterns=(r"ModuleNotFoundError: No module named",),
        cause="A package is not installed on this runtime (a fresh runtime forgets earlier pip installs).",
        action="Install it inside the resume cell (pip install -q <package>) so every fresh runtime gets it.",
        retryable=False,
    ),
    Rule(
        key="syntax_error",
        patterns=(r"^\s*(SyntaxError|IndentationError|TabError): ",),
        cause="The cell's code does not parse (a syntax error); it never ran.",
        action="Fix the line the error points at in the resume cell, then run it again.",
        retryable=False,
    ),
    Rule(
        key="missing_file",
        patterns=(r"FileNotFoundError: \[Errno 2\] No such file or directory",),
        cause="A file or folder the cell reads does not exist on this runtime (a fresh runtime has only what the cell creates or mounts).",
        action="Check the path (is Drive mounted? is the data downloaded inside the resume cell?), then run it again.",
        retryable=False,
    ),
    Rule(
        key="python_traceback",
        patterns=(r"Traceback \(most recent call last\)",),
        cause="The cell raised an exception.",
        action=(
            "Read the last lines of the traceback, fix the code or its input, then run the resume cell again: "
            "it continues from the last checkpoint."
        ),
        retryable=False,
    ),
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
_COMPILED = tuple(
    (rule, tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in rule.patterns)) for rule in RULES
)
_EXCEPTION_LINE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?::[ \t]*(?P<message>.*))?$")
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Interrupt", "Exit", "Iteration", "Warning")
_MAX_MATCH = 300


def _line_at(text: str, start: int, end: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end].strip()
    return line[:_MAX_MATCH]


def _final_exception(text: str, header_start: int) -> str | None:
    """The ``Name: message`` line a traceback ends with (plain Python or IPython layout)."""
    fallback = None
    for line in reversed(text[header_start:].splitlines()[1:]):
        if not line or line[0].isspace():
            continue
        match = _EXCEPTION_LINE.match(line.rstrip())
        if match is None:
            continue
        if match.group("name").endswith(_EXCEPTION_SUFFIXES):
            return line.strip()[:_MAX_MATCH]
        fallback = fallback or line.strip()[:_MAX_MATCH]
    return fallback


def diagnose(text: str) -> list[Diagnosis]:
    """Recognise known failures in cell output.

    Args:
        text: The output of a cell (stdout, stderr, error text), ANSI colours allowed.

    Returns:
        One `Diagnosis` per matching rule, in the order of `RULES` (most specific first, the generic
        traceback last); empty when nothing is recognised.
    """
    clean = _ANSI.sub("", text)
    found: list[Diagnosis] = []
    for rule, patterns in _COMPILED:
        hits = [m for m in (p.search(clean) for p in patterns) if m is not None]
        if not hits:
            continue
        first = min(hits, key=lambda m: m.start())
        cause, matched = rule.cause, _line_at(clean, first.start(), first.end())
        if rule.key == "python_traceback":
            last = max(
                (m for p in patterns for m in p.finditer(clean)),
                key=lambda m: m.start(),
            )
            exception = _final_exception(clean, last.start())
            if exception is not None:
                cause, matched = f"The cell raised {exception}", exception
        found.append(Diagnosis(rule.key, cause, rule.action, matched, rule.retryable))
    return found
