# syntax=docker/dockerfile:1
# The isotretinoin decision-support service. Only the base image comes from an image registry;
# everything else installs from PyPI inside the build.
#   docker build -t isocds .                       (PYTHON_IMAGE: any Python ≥ 3.11 image shaped
#   docker build --build-arg PYTHON_IMAGE=… .       like the official one: python and pip on PATH)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the locked dependencies in a virtual environment, with the bytecode it runs ------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv UV_SYSTEM_CERTS=1
RUN python -m venv /opt/uv && /opt/uv/bin/pip install --quiet "uv>=0.13,<0.14"
WORKDIR /app
COPY pyproject.toml uv.lock ./
# --python: the image's own interpreter (uv never downloads one here).
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project --python "$(command -v python)"
# fhir.resources ships three FHIR versions; the service reads R4 with the R4B models only. Drop
# STU3 and the top-level R5 models (about 20 MB), then prove the R4B models still import.
RUN set -eu; fr=$(echo /app/.venv/lib/python3*/site-packages/fhir/resources); \
    rm -rf "$fr/STU3"; \
    find "$fr" -maxdepth 1 -name '*.py' ! -name '__init__.py' ! -name 'fhirtypes.py' -delete; \
    rm -rf "$fr/__pycache__"; \
    /app/.venv/bin/python -c "import fhir.resources.R4B.observation, fhir.resources.R4B.bundle"
# Strip the symbol tables of the compiled extensions (about 20 MB: uvloop, cryptography,
# SQLAlchemy's Cython modules ship them). strip comes with binutils: present where the base has
# a compiler, else from Debian's packages; where neither is reachable the step is skipped.
RUN set -eu; \
    if ! command -v strip >/dev/null; then \
      (apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils) >/dev/null 2>&1 \
        || echo "binutils not available: extensions left unstripped"; \
    fi; \
    if command -v strip >/dev/null; then \
      find /app/.venv -type f -name '*.so*' -exec strip --strip-unneeded {} +; \
    fi
COPY alembic.ini ./
COPY migrations ./migrations
COPY api ./api
COPY db ./db
COPY domain ./domain
# Bytecode for what the service runs, not for every installed module (half the size of
# compiling everything): our code, the R4B models the FHIR reader loads on demand, and every
# module that start-up, migration and serving import (written by importing them; the import
# is also the smoke test). Nothing is started here: no settings, no key, no database. Then every
# .pyc is rewritten hash-based ("unchecked"): image layers do not keep sub-second modification
# times, which would make timestamp-based bytecode stale and every start parse the sources again.
RUN set -eu; py=/app/.venv/bin/python; \
    $py -m compileall -q api db domain migrations "$(echo /app/.venv/lib/python3*/site-packages/fhir/resources/R4B)"; \
    $py -c "import api.__main__, api.main, api.cds.fhir, db.migrate, alembic.command, \
alembic.ddl.sqlite, alembic.ddl.postgresql, psycopg, sqlalchemy.dialects.sqlite, \
sqlalchemy.dialects.postgresql.psycopg, anyio._backends._asyncio, anyio.streams.memory, \
anyio.streams.stapled, anyio.streams.tls, fastapi_offline, fastapi.telemetry._runtime, \
uvicorn.loops.auto, uvicorn.loops.uvloop, uvicorn.lifespan.on, uvicorn.protocols.http.auto, \
uvicorn.protocols.http.httptools_impl, uvicorn.protocols.websockets.auto"; \
    $py -c "import pathlib, py_compile as c; mode = c.PycInvalidationMode.UNCHECKED_HASH; \
pycs = [p for p in pathlib.Path('/app').rglob('__pycache__/*.pyc')]; \
sources = [(p.parent.parent / (p.name.split('.')[0] + '.py'), p) for p in pycs]; \
[c.compile(str(s), cfile=str(p), invalidation_mode=mode, doraise=True) for s, p in sources if s.is_file()]; \
print(len(pycs), 'modules compiled, hash-based')"

# ---- runtime: the environment and the code, a non-root user, nothing else ---------------------
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH="/app/.venv/bin:$PATH" \
    ISOCDS_HOST=0.0.0.0 ISOCDS_PORT=8000
RUN groupadd --system --gid 10001 isocds \
    && useradd --system --uid 10001 --gid isocds --home-dir /app --shell /usr/sbin/nologin isocds
WORKDIR /app
COPY --from=build /app /app
# var/: the default SQLite database and a generated audit HMAC key. Mount a volume here to keep
# them (and set ISOCDS_AUDIT_HMAC_KEY in production).
RUN mkdir -p /app/var && chown isocds:isocds /app/var
USER isocds
EXPOSE 8000
VOLUME ["/app/var"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('ISOCDS_PORT', '8000')}/health\", timeout=2)"]
# Serves on ISOCDS_HOST:ISOCDS_PORT; migrates an SQLite database at start, never PostgreSQL
# (run `python -m api migrate` as a one-off job for that).
CMD ["python", "-m", "api"]
