"""A process that serves a network keeps numpy's BLAS on one thread, so that OpenBLAS's spinning
threads do not take the cores OpenVINO computes on (mood.engine.serving); checked in a fresh
interpreter, whose BLAS starts with two threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

BLAS_THREADS_AROUND_A_PREDICTION = """
import json
import numpy as np
from threadpoolctl import threadpool_info
from mood.constants import SAMPLE_RATE
from mood.engine.inference import Predictor

def blas_threads():
    return sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})

before = blas_threads()
rng = np.random.default_rng(0)
answer = Predictor("cldnn").predict(rng.normal(0, 0.1, SAMPLE_RATE * 8).astype(np.float32))
print(json.dumps({"before": before, "after": blas_threads(), "moods": len(answer.probabilities)}))
"""


def test_serving_a_network_keeps_numpys_blas_on_one_thread() -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", BLAS_THREADS_AROUND_A_PREDICTION], capture_output=True, text=True, env=env, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"before": [2], "after": [1], "moods": 4}
