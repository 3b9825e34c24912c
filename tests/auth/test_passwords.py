"""G1: passwords are stored as argon2id hashes with the library's production
parameters; the cheap profile the test suite uses is opt-in by an explicit
setting, never the default of an install."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.faults.harness import ROOT

PROBE = "from auth.passwords import hash_password; print(hash_password('correct-horse-battery'))"


def _hash_in_a_fresh_process(**env) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "LEADFLOW_TEST_CHEAP_HASHING"}
    answer = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return answer.stdout.strip()


def test_g1_an_install_hashes_with_argon2id_production_parameters():
    stored = _hash_in_a_fresh_process()
    assert stored.startswith("$argon2id$") and "m=65536,t=3,p=4" in stored


def test_g1_only_the_explicit_test_setting_selects_the_cheap_profile():
    assert "m=8,t=1,p=1" in _hash_in_a_fresh_process(LEADFLOW_TEST_CHEAP_HASHING="1")
    assert "m=65536" in _hash_in_a_fresh_process(LEADFLOW_TEST_CHEAP_HASHING="yes")
