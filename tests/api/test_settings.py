"""Settings: every setting is validated at start-up, and a bad value names the setting."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from api.settings import Settings, SettingsError, load_settings
from domain.vocab import LabProfile, PostTherapyTest

ALL_SETTINGS = (
    "HOST",
    "PORT",
    "DATABASE_URL",
    "AUTH",
    "API_KEYS",
    "API_KEYS_FILE",
    "CDS_CLIENTS_FILE",
    "PUBLIC_BASE_URL",
    "IPLEDGE_2026_EFFECTIVE",
    "LAB_PROFILE_US",
    "EU_POST_THERAPY_TEST",
    "LOCAL_POLICY_FILE",
    "TIMEZONE",
    "CORS_ORIGINS",
    "MAX_BODY_BYTES",
    "DB_TIMEOUT_S",
    "FHIR_TIMEOUT_S",
    "AUDIT_HMAC_KEY",
    "LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL_SETTINGS:
        monkeypatch.delenv(f"ISOCDS_{name}", raising=False)


def test_defaults_match_the_settings_table() -> None:
    s = load_settings()
    assert (s.host, s.port, s.auth) == ("127.0.0.1", 8000, "required")
    assert s.db.database_url.get_secret_value() == "sqlite:///./var/isocds.db"
    assert s.db.db_timeout_s == 5
    assert s.keys() == {}
    assert s.cds_clients() == []
    assert s.public_base_url is None
    ev = s.evaluation()
    assert ev.ipledge_2026_effective == date(2026, 8, 8)
    assert ev.lab_profile_us is LabProfile.LABEL
    assert ev.eu_post_therapy_test is PostTherapyTest.ONE_MONTH
    assert s.timezone == "UTC"
    assert not s.timezone_set
    assert s.origins() == ()
    assert s.max_body_bytes == 262144
    assert s.fhir_timeout_s == 1.5
    assert s.audit_hmac_key is None
    assert s.log_level == "info"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "0"),
        ("PORT", "eighty"),
        ("DATABASE_URL", "mysql://x"),
        ("AUTH", "maybe"),
        ("API_KEYS", "nocolon"),
        ("API_KEYS", "k1:short"),
        ("API_KEYS", "k1:aaaaaaaaaaaaaaaaaaaa,k1:bbbbbbbbbbbbbbbbbbbb"),
        ("API_KEYS_FILE", "/nonexistent/keys"),
        ("CDS_CLIENTS_FILE", "/nonexistent/clients.json"),
        ("PUBLIC_BASE_URL", "not a url"),
        ("IPLEDGE_2026_EFFECTIVE", "2026-02-30"),
        ("LAB_PROFILE_US", "smpc"),
        ("EU_POST_THERAPY_TEST", "6-weeks"),
        ("LOCAL_POLICY_FILE", "/nonexistent/policy.json"),
        ("TIMEZONE", "Mars/Olympus"),
        ("CORS_ORIGINS", "ftp://x"),
        ("MAX_BODY_BYTES", "-1"),
        ("DB_TIMEOUT_S", "0"),
        ("FHIR_TIMEOUT_S", "fast"),
        ("AUDIT_HMAC_KEY", "too-short"),
        ("LOG_LEVEL", "verbose"),
    ],
)
def test_a_bad_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"ISOCDS_{name}", value)
    with pytest.raises(SettingsError, match=f"ISOCDS_{name}"):
        load_settings()


def test_auth_disabled_binds_only_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISOCDS_AUTH", "disabled")
    monkeypatch.setenv("ISOCDS_HOST", "0.0.0.0")  # noqa: S104  # the point of the test
    with pytest.raises(SettingsError, match="loopback"):
        load_settings()
    monkeypatch.setenv("ISOCDS_HOST", "127.0.0.1")
    assert load_settings().auth == "disabled"


def test_api_keys_from_both_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    keyfile = tmp_path / "keys"
    keyfile.write_text("# clinic keys\nehr-b:bbbbbbbbbbbbbbbbbbbb\n")
    monkeypatch.setenv("ISOCDS_API_KEYS", "ehr-a:aaaaaaaaaaaaaaaaaaaa")
    monkeypatch.setenv("ISOCDS_API_KEYS_FILE", str(keyfile))
    keys = load_settings().keys()
    assert sorted(keys) == ["ehr-a", "ehr-b"]
    assert "aaaa" not in repr(keys)  # secrets never print


def test_a_bad_keys_file_names_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    keyfile = tmp_path / "keys"
    keyfile.write_text("broken line\n")
    monkeypatch.setenv("ISOCDS_API_KEYS_FILE", str(keyfile))
    with pytest.raises(SettingsError, match="ISOCDS_API_KEYS_FILE"):
        load_settings()


@pytest.mark.parametrize(
    ("clients", "reason"),
    [
        ({"iss": "x"}, "array"),
        ([{"jurisdiction": "US", "jwks": {"keys": []}}], "'iss' is required"),
        ([{"iss": "a", "jurisdiction": "FR", "jwks": {"keys": []}}], "jurisdiction"),
        ([{"iss": "a", "jurisdiction": "US"}], "jwks"),
        (
            [{"iss": "a", "jurisdiction": "US", "jwks": {"keys": []}, "jku": "https://x"}],
            "exactly one",
        ),
        ([{"iss": "a", "jurisdiction": "US", "jku": "http://ehr.example.org/jwks"}], "https"),
        (
            [{"iss": "a", "jurisdiction": "EU", "jwks": {"keys": []}, "lab_profile": "evidence"}],
            "US only",
        ),
        (
            [
                {
                    "iss": "a",
                    "jurisdiction": "US",
                    "jwks": {"keys": []},
                    "fhir_servers": ["http://ehr.org"],
                }
            ],
            "loopback",
        ),
    ],
)
def test_cds_clients_file_is_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clients: object, reason: str
) -> None:
    path = tmp_path / "clients.json"
    path.write_text(json.dumps(clients))
    monkeypatch.setenv("ISOCDS_CDS_CLIENTS_FILE", str(path))
    with pytest.raises(SettingsError, match="ISOCDS_CDS_CLIENTS_FILE") as err:
        load_settings()
    assert reason in str(err.value)


def test_a_good_clients_file_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    client = {
        "iss": "https://ehr.example.org",
        "jurisdiction": "US",
        "jku": "https://ehr.example.org/.well-known/jwks.json",
        "fhir_servers": ["https://ehr.example.org/fhir", "http://127.0.0.1:9999/fhir"],
        "lab_profile": "evidence",
    }
    path.write_text(json.dumps([client]))
    monkeypatch.setenv("ISOCDS_CDS_CLIENTS_FILE", str(path))
    monkeypatch.setenv("ISOCDS_PUBLIC_BASE_URL", "https://cds.example.org")
    assert load_settings().cds_clients() == [client]


def test_local_policy_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"tg_severe_mg_dl": 1000, "uln_alt_u_l": 45}))
    monkeypatch.setenv("ISOCDS_LOCAL_POLICY_FILE", str(path))
    policy = load_settings().evaluation().local_policy
    assert policy.tg_severe_mg_dl == 1000
    assert policy.uln_alt_u_l == 45
    path.write_text(json.dumps({"tg_severe": 1000}))
    with pytest.raises(SettingsError, match="ISOCDS_LOCAL_POLICY_FILE: tg_severe"):
        load_settings()
    path.write_text("{not json")
    with pytest.raises(SettingsError, match="ISOCDS_LOCAL_POLICY_FILE"):
        load_settings()


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValueError, match="frozen"):
        s.port = 9  # type: ignore[misc]  # the point: frozen


def test_timezone_set_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISOCDS_TIMEZONE", "Europe/London")
    s = load_settings()
    assert s.timezone_set
    assert s.zone().key == "Europe/London"
