"""The container and compose files hold the properties issue 6 asks of them.

The image was verified by a real build and probe (see the README, Deployment); these checks keep
the properties that the build alone would not catch from drifting: the base image as a build
argument, only the base image from a registry, the locked install, a non-root user, the health
check, the start command, and a compose example whose API waits for its migration.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; tests only

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_base_image_is_a_build_argument_defaulting_to_official_slim_python() -> None:
    args = [rest for word, rest in _instructions() if word == "ARG"]
    assert "PYTHON_IMAGE=python:3.11-slim-bookworm" in args
    froms = [rest for word, rest in _instructions() if word == "FROM"]
    assert len(froms) == 2, "multi-stage: a build stage and a runtime stage"
    assert all(f.startswith("${PYTHON_IMAGE}") for f in froms)


def test_only_the_base_image_comes_from_a_registry() -> None:
    copies = [rest for word, rest in _instructions() if word == "COPY" and "--from=" in rest]
    assert copies, "the runtime stage copies the environment from the build stage"
    assert all(rest.startswith("--from=build ") for rest in copies)
    runs = " ".join(rest for word, rest in _instructions() if word == "RUN")
    assert 'pip install --quiet "uv' in runs  # uv from PyPI, inside the build
    assert "uv sync --frozen --no-dev" in runs  # the lock file, nothing resolved anew


def test_runtime_stage_runs_as_a_non_root_user_with_a_health_check() -> None:
    runtime = DOCKERFILE[DOCKERFILE.rindex("FROM ${PYTHON_IMAGE}") :]
    users = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    assert users
    assert users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*/health", re.sub(r"\\\n", " ", runtime), re.M)
    assert "ISOCDS_HOST=0.0.0.0" in runtime
    assert "ISOCDS_PORT=8000" in runtime
    assert 'CMD ["python", "-m", "api"]' in runtime
    assert "uv" not in re.sub(r"#.*", "", runtime).split(), "no uv in the final stage"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return data


def test_compose_runs_the_migration_once_before_the_service_on_postgresql() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "migrate", "api"}
    assert services["migrate"]["command"] == ["python", "-m", "api", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["api"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    env = services["api"]["environment"]
    assert env["ISOCDS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "ISOCDS_AUDIT_HMAC_KEY" in env
    clients = ROOT / "config" / "cds-clients.json"
    assert env["ISOCDS_CDS_CLIENTS_FILE"] == "/config/cds-clients.json"
    assert clients.read_text(encoding="utf-8").strip() == "[]"
