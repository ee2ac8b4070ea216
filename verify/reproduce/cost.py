"""Shared numbers of the experiments' cost models: the data stream's cost per batch and the
GPU step time of the paper preset (torch-free: ``--dry-run`` plans without torch or a device).

**Stream, CPU (measured).**  ``ditgp bench stream`` (1 torch thread, medians, this project's
2-core machine, 2026-12-02, load ≈ 0.8) fitted over eight shapes (batch 16–64, d 1–1024,
H 12–512, with and without a finite training set) by ``c0 + c1·normals + c2·MACs`` within
±11 % (one outlier +48 % at 38k normals): ``normals`` is ``2·b·d·H`` for GP draws (``X₀`` and
``Z``) or ``b·d·H`` with a training set (``Z`` only), ``MACs = 3·b·d·H·(H + d)`` the exact
Kronecker transform (GP draws only).  Paper preset (64 × 8 × 96): 2.6 ms per batch.

**Stream, GPU (assumed, not measured: the device stream has not been timed
on a GPU).**  About 170 small kernels per batch (Philox rounds, Box–Muller, six GEMMs) at ~6 µs
of launch each ≈ 1 ms, plus memory traffic of ~200 bytes per normal at ~1 TB/s; it runs on a
side stream while the previous step computes, so this is an upper bound of what it adds.

**GPU step (measured).**  ``ditgp bench train --preset paper`` on one H100: 26.5 steps/s in
float32, batches prepared in advance (the old host stream took 39.7 ms per batch beside it).
"""

from __future__ import annotations

__all__ = ["CPU_STREAM_C0", "CPU_STREAM_S_PER_NORMAL", "CPU_STREAM_S_PER_MAC",
           "GPU_STREAM_S0", "GPU_STREAM_S_PER_NORMAL", "GPU_PAPER_STEPS_PER_S",
           "GPU_PAPER_STEP_S", "stream_seconds", "describe"]

CPU_STREAM_C0 = 2.6e-4
CPU_STREAM_S_PER_NORMAL = 1.75e-8
CPU_STREAM_S_PER_MAC = 3.5e-11
GPU_STREAM_S0 = 1.0e-3
GPU_STREAM_S_PER_NORMAL = 2.0e-10
GPU_PAPER_STEPS_PER_S = 26.5
GPU_PAPER_STEP_S = 1.0 / GPU_PAPER_STEPS_PER_S


def stream_seconds(batch: int, d: int, H: int, device: str, *, gp_draws: bool = True) -> float:
    """Seconds per global batch of the data stream on ``device`` (``gp_draws=False``: a
    finite training set or given data, so only ``Z`` is drawn and nothing is transformed)."""
    normals = (2 if gp_draws else 1) * batch * d * H
    if str(device).startswith("cuda"):
        return GPU_STREAM_S0 + GPU_STREAM_S_PER_NORMAL * normals
    macs = 3 * batch * d * H * (H + d) if gp_draws else 0
    return CPU_STREAM_C0 + CPU_STREAM_S_PER_NORMAL * normals + CPU_STREAM_S_PER_MAC * macs


def describe(device: str) -> str:
    """One line: what the cost model's stream and step numbers are and where they come from."""
    paper = stream_seconds(64, 8, 96, device)
    if str(device).startswith("cuda"):
        return (f"cost model on {device}: paper-preset step {GPU_PAPER_STEP_S * 1e3:.1f} ms "
                f"({GPU_PAPER_STEPS_PER_S:g} steps/s, H100 float32, measured), data stream "
                f"{paper * 1e3:.1f} ms per paper batch (assumed, not measured on a GPU)")
    return (f"cost model on {device}: data stream {paper * 1e3:.1f} ms per paper batch "
            "(measured on the 2-core CPU), steps from each experiment's CPU calibration")
