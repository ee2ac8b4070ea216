"""Keep a seeded random sample of the mutants of a cosmic-ray session (CPU is scarce).

Usage: ``python tests/mutation/sample.py SESSION.sqlite N [SEED]`` after ``cosmic-ray init``.
"""

from __future__ import annotations

import random
import sqlite3
import sys


def sample(path: str, n: int, seed: int = 0) -> tuple[int, int]:
    con = sqlite3.connect(path)
    ids = sorted(r[0] for r in con.execute("SELECT job_id FROM work_items"))
    keep = set(random.Random(seed).sample(ids, min(n, len(ids))))
    drop = [(i,) for i in ids if i not in keep]
    con.executemany("DELETE FROM mutation_specs WHERE job_id = ?", drop)
    con.executemany("DELETE FROM work_items WHERE job_id = ?", drop)
    con.commit()
    return len(ids), len(keep)


if __name__ == "__main__":
    total, kept = sample(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    print(f"kept {kept} of {total} mutants")
