"""``models`` tests: torch runs single-threaded (``pytest -n 2`` already uses both cores;
oversubscribed intra-op threads made small forward passes ~30× slower on a loaded machine)."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
