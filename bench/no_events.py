"""``python app.py`` with change events off, for the benchmark only: ``bench/feed.py`` runs it
beside a normal server to measure what recording events costs. Roster itself has no setting
for this (its feed must never miss a change)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

import storage  # noqa: E402

storage.RECORD_EVENTS = False

import app  # noqa: E402

if __name__ == "__main__":
    sys.exit(app.main())
