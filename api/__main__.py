"""``python -m api``: check the settings, then serve on ``ISOCDS_HOST``:``ISOCDS_PORT``.

``python -m api migrate`` runs the migrations of ``ISOCDS_DATABASE_URL`` and exits: the one-off
release job of a PostgreSQL deployment. ``python -m api audit verify`` walks every tenant's audit
chain and reports the first broken link (exit 1), or that each chain holds (exit 0).

Serving migrates an SQLite database first, so that a single container (or ``make run``) with no
settings at all starts on a working embedded database: the one deliberate exception to "migrations
run as a one-off job", since an SQLite file belongs to one machine and has no release pipeline.
A PostgreSQL database is never migrated at start: ``/ready`` answers 503 until the one-off job
has brought its schema to head.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from types import FrameType

import uvicorn
from sqlmodel import Session

from api.audit import KEY_FILE, load_hmac_key
from api.limits import server_options
from api.main import create_app
from api.settings import Settings, SettingsError, load_settings
from db.audit_chain import verify
from db.engine import make_engine
from db.migrate import head_revision, upgrade

GRACEFUL_SHUTDOWN_S = 8
"""After SIGTERM, in-flight requests get this long to finish (the process ends within 10 s)."""


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    """SIGTERM outside uvicorn's own handling: during start-up, and the one uvicorn raises again
    after its graceful shutdown (whose default action would end the process with -15, not 0)."""
    raise SystemExit(0)


DRAIN_S = 0.25
"""After SIGTERM, how long open connections are still read before the idle ones are closed."""


class _Server(uvicorn.Server):
    """uvicorn's server, draining before it closes idle keep-alive connections.

    On shutdown uvicorn closes every connection that has no request in progress. A request that
    has reached the socket but that the event loop has not read yet (it was busy) counts as none,
    so the connection is closed with it unread and the client gets a connection reset. Stopping
    to accept, then reading for ``DRAIN_S`` first, lets every request sent before the signal
    reach the app, where uvicorn answers it and then closes the connection.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        await asyncio.sleep(DRAIN_S)
        await super().shutdown(sockets)


def _settings() -> Settings | None:
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"isocds: cannot start: {exc}", file=sys.stderr)  # noqa: T201  # before logging exists
        return None


def migrate() -> int:
    """Bring the configured database's schema to head."""
    settings = _settings()
    if settings is None:
        return 2
    upgrade(settings.db.database_url.get_secret_value())
    print(f"isocds: database migrated to {head_revision()}")  # noqa: T201  # a CLI
    return 0


def audit_verify() -> int:
    """Walk every tenant's audit chain; exit 0 when each holds, 1 at the first broken link."""
    settings = _settings()
    if settings is None:
        return 2
    if settings.audit_hmac_key is None and not KEY_FILE.is_file():
        print("isocds: no audit key: set ISOCDS_AUDIT_HMAC_KEY", file=sys.stderr)  # noqa: T201
        return 2
    engine = make_engine(settings.db, reads=True)
    try:
        with Session(engine) as session:
            reports = verify(session, load_hmac_key(settings))
    finally:
        engine.dispose()
    broken = 0
    for r in reports:
        state = "intact" if r.broken is None else f"BROKEN at {r.broken}"
        extra = f", {r.unchained} written before the chain (not verifiable)" if r.unchained else ""
        print(f"tenant {r.tenant}: {r.records} records{extra}: {state}")  # noqa: T201  # a CLI
        broken += r.broken is not None
    if not reports:
        print("no audit records")  # noqa: T201  # a CLI
    return 1 if broken else 0


def serve() -> int:
    """Serve, or exit 2 with a message naming the bad setting."""
    settings = _settings()
    if settings is None:
        return 2
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if settings.db.is_sqlite:
        upgrade(settings.db.database_url.get_secret_value())
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        # httptools counting head bytes as they arrive: an oversized head is cut, never buffered.
        **server_options(settings.max_header_bytes),
    )
    server = _Server(config)
    server.run()
    return 0 if server.started else 3  # as uvicorn.run: 3 when the app could not start


def main(argv: list[str]) -> int:
    """``python -m api [serve|migrate|audit verify]``."""
    command = argv[0] if argv else "serve"
    if command == "serve":
        return serve()
    if command == "migrate":
        return migrate()
    if argv == ["audit", "verify"]:
        return audit_verify()
    print("usage: python -m api [serve|migrate|audit verify]", file=sys.stderr)  # noqa: T201
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
