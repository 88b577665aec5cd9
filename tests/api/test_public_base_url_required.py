"""Issue 11: CDS Hooks clients need ``ISOCDS_PUBLIC_BASE_URL``, or the service does not start.

The JWT ``aud`` is checked against that URL; taken from the ``Host`` header it would be whatever
the caller sent, so a token minted for another CDS service could be replayed here. Only
``ISOCDS_AUTH=disabled`` (loopback only, no JWT verified) may run clients without it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; tests only

from api.main import create_app
from api.settings import SettingsError, load_settings
from tests.api.conftest import settings

ROOT = Path(__file__).resolve().parents[2]
CLIENT = {
    "iss": "https://ehr.example.org",
    "jurisdiction": "US",
    "jku": "https://ehr.example.org/.well-known/jwks.json",
}
BOTH = ("ISOCDS_PUBLIC_BASE_URL", "ISOCDS_CDS_CLIENTS_FILE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("ISOCDS_")]:
        monkeypatch.delenv(name)


def clients_file(folder: Path, clients: list[dict[str, Any]]) -> Path:
    path = folder / "clients.json"
    path.write_text(json.dumps(clients), encoding="utf-8")
    return path


def assert_names_both(message: str) -> None:
    for name in BOTH:
        assert name in message, message
    assert "Host" in message


def test_clients_without_a_public_base_url_stop_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ISOCDS_CDS_CLIENTS_FILE", str(clients_file(tmp_path, [CLIENT])))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert_names_both(str(caught.value))
    assert str(caught.value).startswith("ISOCDS_PUBLIC_BASE_URL: ")


def test_an_empty_public_base_url_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # compose.yaml's old `${ISOCDS_PUBLIC_BASE_URL:-}` gave exactly this.
    monkeypatch.setenv("ISOCDS_CDS_CLIENTS_FILE", str(clients_file(tmp_path, [CLIENT])))
    monkeypatch.setenv("ISOCDS_PUBLIC_BASE_URL", "")
    with pytest.raises(SettingsError, match="ISOCDS_PUBLIC_BASE_URL"):
        load_settings()


def test_create_app_refuses_clients_without_a_public_base_url(tmp_path: Path) -> None:
    path = clients_file(tmp_path, [CLIENT])
    with pytest.raises(SettingsError) as caught:
        create_app(settings(cds_clients_file=path))
    assert_names_both(str(caught.value))


def test_python_m_api_exits_2_naming_both_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOCDS_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["ISOCDS_CDS_CLIENTS_FILE"] = str(clients_file(tmp_path, [CLIENT]))
    done = subprocess.run(  # this interpreter, our command
        [sys.executable, "-m", "api"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "cannot start" in done.stderr
    assert_names_both(done.stderr)
    assert not (tmp_path / "var").exists()  # refused before any database was touched


def test_clients_with_a_public_base_url_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ISOCDS_CDS_CLIENTS_FILE", str(clients_file(tmp_path, [CLIENT])))
    monkeypatch.setenv("ISOCDS_PUBLIC_BASE_URL", "https://cds.example.org/isocds/")
    loaded = load_settings()
    assert loaded.public_base_url == "https://cds.example.org/isocds"
    assert [c["iss"] for c in loaded.cds_clients()] == [CLIENT["iss"]]


def test_no_clients_need_no_public_base_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert load_settings().public_base_url is None
    # The committed config/cds-clients.json is `[]`: the compose example starts as it is.
    monkeypatch.setenv("ISOCDS_CDS_CLIENTS_FILE", str(clients_file(tmp_path, [])))
    assert load_settings().cds_clients() == []


def test_auth_disabled_needs_no_public_base_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Loopback only, and no JWT is verified: there is no audience to check.
    monkeypatch.setenv("ISOCDS_CDS_CLIENTS_FILE", str(clients_file(tmp_path, [CLIENT])))
    monkeypatch.setenv("ISOCDS_AUTH", "disabled")
    assert load_settings().auth == "disabled"


def test_compose_example_sets_a_public_base_url() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    api = compose["services"]["api"]
    value = api["environment"]["ISOCDS_PUBLIC_BASE_URL"]
    match = re.fullmatch(r"\$\{ISOCDS_PUBLIC_BASE_URL:-(.+)\}", value)
    assert match, value  # overridable, with a non-empty default
    published = api["ports"][0].rsplit(":", 1)[0]  # "127.0.0.1:8000:8000" → "127.0.0.1:8000"
    assert match.group(1) == f"http://{published}"
