"""The editor's plain-data modules (pose model, undo/redo, key names) under Node's own test runner.

Fast and browser-free; skipped where Node is not installed (Python-only machines).
"""

import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_the_editor_unit_tests_pass_under_node():
    run = subprocess.run([NODE, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    passed = int(re.search(r"^# pass (\d+)$", run.stdout, re.M).group(1))
    assert passed >= 5 and "# fail 0" in run.stdout
