"""``python -m api``: check the settings, then serve on ``ISOCDS_HOST``:``ISOCDS_PORT``."""

from __future__ import annotations

import sys

import uvicorn

from api.main import create_app
from api.settings import SettingsError, load_settings


def main() -> int:
    """Serve, or exit 2 with a message naming the bad setting."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"isocds: cannot start: {exc}", file=sys.stderr)  # noqa: T201  # before logging exists
        return 2
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False, log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
