"""``python -m api.openapi``: print the app's OpenAPI document (``make openapi``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import SecretStr

from api.main import create_app
from api.settings import Settings


def document() -> dict[str, Any]:
    """The OpenAPI document of the app built with default settings.

    A throwaway audit key: building the app must not generate and store one (nor log the warning
    that it did, which would land in the document written to stdout)."""
    settings = Settings(auth="disabled", audit_hmac_key=SecretStr("openapi-" + "0" * 32))
    return create_app(settings).openapi()


if __name__ == "__main__":
    json.dump(document(), sys.stdout, indent=2, ensure_ascii=False, sort_keys=False)
    sys.stdout.write("\n")
