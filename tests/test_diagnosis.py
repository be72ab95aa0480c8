"""sentinel.diagnosis: each row of the troubleshooting table recognised in realistic cell output."""

from __future__ import annotations

import pytest

from sentinel.diagnosis import RULES, Diagnosis, diagnose

RED, RESET = "\x1b[0;31m", "\x1b[0m"

SAMPLES = {
    "cuda_oom": (
        "Traceback (most recent call last):\n"
        '  File "<cell>", line 12, in <module>\n'
        "    loss.backward()\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total "
        "capacity of 14.75 GiB of which 1.06 GiB is free.\n"
    ),
    "cudnn_internal_error": "RuntimeError: cuDNN error: CUDNN_STATUS_INTERNAL_ERROR\n",
    "cuda_device_error": (
        "RuntimeError: CUDA error: device-side assert triggered\n"
        "CUDA kernel errors might be asynchronously reported at some other API call\n"
    ),
    "drive_disconnected": "OSError: [Errno 107] Transport endpoint is not connected: '/content/drive/MyDrive/x'\n",
    "ram_exhausted": "Your session crashed after using all available RAM. If you are interested in access to "
    "high-RAM runtimes, you may want to check out Colab Pro.",
    "kernel_died": "The kernel appears to have died. It will restart automatically.",
    "gpu_unavailable": "RuntimeError: No CUDA GPUs are available",
    "disk_full": "OSError: [Errno 28] No space left on device: '/content/drive/MyDrive/ckpt'",
    "checkpoint_lease_held": "sentinel.notebook._errors.LeaseHeldError: /x is being written by pid 7",
    "module_not_found": "ModuleNotFoundError: No module named 'timm'",
    "syntax_error": (
        '  File "<ipython-input-3-1b2c>", line 4\n'
        "    for epoch in range(10)\n"
        "                          ^\n"
        "SyntaxError: expected ':'\n"
    ),
    "missing_file": (
        "Traceback (most recent call last):\n"
        '  File "<cell>", line 2, in <module>\n'
        "FileNotFoundError: [Errno 2] No such file or directory: '/content/data/train.csv'\n"
    ),
    "python_traceback": (
        "Traceback (most recent call last):\n"
        '  File "<cell>", line 3, in <module>\n'
        "    raise ValueError('bad learning rate')\n"
        "ValueError: bad learning rate\n"
    ),
}


def test_every_rule_has_a_sample() -> None:
    assert set(SAMPLES) == {rule.key for rule in RULES}


def test_keys_are_unique_and_rules_complete() -> None:
    keys = [rule.key for rule in RULES]
    assert len(keys) == len(set(keys))
    for rule in RULES:
        assert rule.patterns and rule.cause and rule.action


@pytest.mark.parametrize("key", list(SAMPLES))
def test_recognised_first(key: str) -> None:
    """The sample's own rule is the first (most specific) diagnosis."""
    found = diagnose(SAMPLES[key])
    assert found, key
    assert found[0].key == key
    rule = next(r for r in RULES if r.key == key)
    assert found[0].action == rule.action
    assert found[0].retryable == rule.retryable


def test_specific_before_generic_traceback() -> None:
    found = diagnose(SAMPLES["cuda_oom"])
    assert [d.key for d in found] == ["cuda_oom", "python_traceback"]
    assert found[1].cause == f"The cell raised {SAMPLES['cuda_oom'].splitlines()[-1]}"
    assert found[0].match.startswith("torch.OutOfMemoryError: CUDA out of memory")


def test_traceback_names_the_final_exception() -> None:
    (found,) = diagnose(SAMPLES["python_traceback"])
    assert found == Diagnosis(
        key="python_traceback",
        cause="The cell raised ValueError: bad learning rate",
        action=found.action,
        match="ValueError: bad learning rate",
        retryable=False,
    )


def test_ipython_traceback_with_colours() -> None:
    """Jupyter's coloured layout: the exception name heads the traceback and ends it."""
    text = (
        f"{RED}---------------------------------------------------------------------------{RESET}\n"
        f"{RED}KeyError{RESET}                                  Traceback (most recent call last)\n"
        f"Cell {RED}In[4], line 2{RESET}\n"
        "      1 d = {}\n"
        f"{RED}----> 2{RESET} d['lr']\n"
        "\n"
        f"{RED}KeyError{RESET}: 'lr'\n"
    )
    (found,) = diagnose(text)
    assert found.cause == "The cell raised KeyError: 'lr'"


def test_chained_traceback_reports_the_last_exception() -> None:
    text = (
        "Traceback (most recent call last):\n  File 'a', line 1\nKeyError: 'x'\n\n"
        "During handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n  File 'b', line 2\nRuntimeError: config incomplete\n"
    )
    assert diagnose(text)[0].match == "RuntimeError: config incomplete"


def test_several_problems_in_one_output() -> None:
    text = SAMPLES["drive_disconnected"] + "\n" + SAMPLES["ram_exhausted"]
    assert [d.key for d in diagnose(text)] == ["drive_disconnected", "ram_exhausted"]


@pytest.mark.parametrize(
    "text",
    ["", "epoch 3 loss 0.31", '[sentinel] {"step": 5, "total": 10}', "memory usage: 3 GiB of 12 GiB"],
)
def test_healthy_output_is_not_diagnosed(text: str) -> None:
    assert diagnose(text) == []


def test_match_is_bounded() -> None:
    (found,) = diagnose("RuntimeError: No CUDA GPUs are available" + "x" * 10_000)
    assert len(found.match) == 300
