"""``python -m api.openapi``: print the app's OpenAPI document (``make openapi``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from api.main import create_app
from api.settings import Settings


def document() -> dict[str, Any]:
    """The OpenAPI document of the app built with default settings."""
    return create_app(Settings(auth="disabled")).openapi()


if __name__ == "__main__":
    json.dump(document(), sys.stdout, indent=2, ensure_ascii=False, sort_keys=False)
    sys.stdout.write("\n")
