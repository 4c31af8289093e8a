"""benches/train_throughput.py --smoke runs both paths end to end on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_train_throughput_smoke(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), str(ROOT)]))
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benches" / "train_throughput.py"),
            "--smoke",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
    paths = {r["path"]: r for r in results if "path" in r}
    assert set(paths) == {"baseline", "brightingest"}
    assert paths["brightingest"]["steps"] == paths["baseline"]["steps"] == 3
    assert all(r["tokens_per_s"] > 0 for r in paths.values())
    assert results[-1]["speedup"] > 0
