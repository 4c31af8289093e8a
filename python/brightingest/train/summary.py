"""``training_summary.json`` and ``loss_curve.png`` in the output directory."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["plot_loss", "write_json_atomic", "write_summary"]


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same directory, then rename it into place."""
    from brightingest.writers import output_mode

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, output_mode(path))  # not mkstemp's 0o600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False, default=str)
            fh.write("\n")
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_summary(output_dir: Path, summary: dict[str, Any]) -> Path:
    """Write ``training_summary.json``; returns its path."""
    path = output_dir / "training_summary.json"
    write_json_atomic(path, summary)
    return path


def plot_loss(
    output_dir: Path, losses: list[dict[str, Any]], evals: list[dict[str, Any]]
) -> Path | None:
    """Draw the training (and eval) loss per step into ``loss_curve.png`` (matplotlib Agg).

    Returns:
        The image path, or ``None`` when there is nothing to draw or matplotlib is missing.
    """
    if not losses:
        return None
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([p["step"] for p in losses], [p["loss"] for p in losses], label="train", lw=1.2)
    if evals:
        ax.plot([p["step"] for p in evals], [p["loss"] for p in evals], "o-", label="eval", lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (per trained token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = output_dir / "loss_curve.png"
    fig.savefig(str(path))
    return path
