"""The POST budget's arithmetic (``bench/breakdown.py``): where a POST's time goes, from the
means the benchmark measured and py-spy's shares."""

from __future__ import annotations

import re

from bench.breakdown import VALIDATION, budget

SPIED = {
    "parts": {
        "fsync (group commit, disk)": 0.9,  # stretched by the sampler: never used when measured
        VALIDATION: 0.1,
        "rendering the answer": 0.3,
        "Flask: routing, hooks, contexts": 0.5,  # bare Flask's own
    }
}


def _rows(text: str) -> dict[str, float]:
    return {
        m.group(2).strip(): float(m.group(1))
        for m in re.finditer(r"^ +(\d+\.\d+) ms +#* +(.+)$", text, re.M)
    }


def test_the_wait_for_the_disk_is_the_difference_with_fsync_a_no_op():
    text = budget(SPIED, post_ms=1.6, ceiling_ms=0.4, target_ms=0.8, fsync_ms=0.15, unsynced_ms=1.2)
    rows = _rows(text)
    assert rows["waiting for the fsync (measured: the same POSTs with it a no-op)"] == 0.4
    # The 0.8 ms of Python work over bare Flask split 1:3 between the two parts of Roster's own.
    assert rows[VALIDATION] == 0.2 and rows["rendering the answer"] == 0.6
    assert "fsync (group commit, disk)" not in rows
    assert round(sum(rows.values()), 3) == 1.6  # every part of the POST, nothing twice
    assert "+0.80 ms to go" in text
    # Bare Flask 0.4 + validation 0.2 + disk 0.4 = 1.0 > 0.8: the stack alone is over.
    assert "= 1.00 ms of the 0.80 ms allowed: 0.00 ms left" in text
    assert "a POST takes 1.20 ms, over the 0.80 ms" in text


def test_without_the_measurement_the_sampled_fsync_share_stands_in():
    text = budget(SPIED, post_ms=1.6, ceiling_ms=0.4, target_ms=0.8, fsync_ms=0.15)
    rows = _rows(text)
    assert rows["fsync (group commit, disk)"] == 0.831  # 1.2 x 0.9 / 1.3
    assert "with no fsync at all" not in text
