"""The process settings mifidelity makes before any OpenMP runtime starts (issue 26)."""

import os
import subprocess
import sys

SHOW = ("import mifidelity, os, sys; print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules, "
        "os.environ.get('ONEDNN_PRIMITIVE_CACHE_CAPACITY'))")


def _run(env: dict) -> str:
    return subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True).stdout.split()


def test_openmp_threads_sleep_while_waiting_unless_the_user_chose():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    # Set on import of the package, before torch (and its OpenMP runtime) is loaded.
    assert _run(env)[:2] == ["PASSIVE", "False"]
    assert _run({**env, "OMP_WAIT_POLICY": "ACTIVE"})[0] == "ACTIVE"


def test_onednn_keeps_few_compiled_kernels_unless_the_user_chose():
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    assert _run(env)[1:] == ["False", "16"]  # set before torch or CTranslate2 start oneDNN
    assert _run({**env, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "1024"})[2] == "1024"
