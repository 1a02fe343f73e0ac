"""Write docs/openapi.json, the OpenAPI 3.1 description of Roster's SCIM API and application API.

Run ``python docs/openapi.py`` after changing ``scim/core/schemas.py`` or the endpoints; the
test suite fails while the shipped file differs from what ``appapi.openapi.describe()``
generates.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "openapi.json"


def render() -> str:
    """Return the document as it is shipped: indented, keys in the generator's order."""
    sys.path.insert(0, str(ROOT))
    from appapi.openapi import describe

    return json.dumps(describe(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
