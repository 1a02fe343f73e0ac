"""The POST budget's arithmetic (``bench/breakdown.py``): where a POST's time goes, from the
means the benchmark measured and the parts timed in the server (``bench/parts.py``)."""

from __future__ import annotations

import re

from bench.breakdown import REST, budget
from bench.parts import TOTAL, VALIDATION

PARTS = {VALIDATION: 0.2, "rendering the answer": 0.3, TOTAL: 0.9}
WAIT = "waiting for the fsync (measured: the same POSTs with it a no-op)"


def _rows(text: str) -> dict[str, float]:
    return {
        m.group(2).strip(): float(m.group(1))
        for m in re.finditer(r"^ +(-?\d+\.\d+) ms +#* +(.+)$", text, re.M)
    }


def test_a_post_is_bare_flask_the_wait_for_the_disk_and_the_parts_timed():
    text = budget(PARTS, post_ms=1.6, ceiling_ms=0.4, target_ms=0.8, fsync_ms=0.15, unsynced_ms=1.2)
    rows = _rows(text)
    assert rows[WAIT] == 0.4  # 1.6 with the fsync, 1.2 without
    assert rows[VALIDATION] == 0.2 and rows["rendering the answer"] == 0.3
    assert rows[REST] == 0.3  # 1.2 - 0.4 of work, less the 0.5 timed
    assert TOTAL not in rows  # the app's whole time is not a part of itself
    assert round(sum(rows.values()), 3) == 1.6  # every part of the POST, nothing twice
    assert "+0.80 ms to go" in text
    # Bare Flask 0.4 + validation 0.2 + disk 0.4 = 1.0 > 0.8: the stack alone is over.
    assert "= 1.00 ms of the 0.80 ms allowed: 0.00 ms left" in text
    assert "a POST takes 1.20 ms, over the 0.80 ms" in text


def test_when_no_fsync_decides_the_budget_says_so():
    text = budget(PARTS, post_ms=1.0, ceiling_ms=0.4, target_ms=0.9, fsync_ms=0.15, unsynced_ms=0.8)
    assert "a POST takes 0.80 ms, within the 0.90 ms" in text
    assert "the disk's wait decides" in text
