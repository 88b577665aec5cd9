"""Service settings: every ``ISOCDS_*`` variable, read once at start-up into frozen objects.

A bad value stops start-up with a message naming the setting (:class:`SettingsError`). The
clinical part reaches the domain as a value (:meth:`Settings.evaluation`); the domain never reads
the environment.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from db.settings import DbSettings
from domain.errors import PolicyError
from domain.settings import EvaluationSettings, LocalPolicy
from domain.vocab import LabProfile, PostTherapyTest

_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TENANT = _KEY_ID  # the same simple names: letters, digits, '.', '_', '-'; at most 64
MIN_SECRET_LENGTH = 16
DEFAULT_TENANT = "default"
SCOPES = ("evaluate", "courses:read", "courses:write", "audit:read", "feedback:read")
"""Every scope an API key can hold (README, "Tenants and scopes")."""
DEFAULT_SCOPES = frozenset({"evaluate", "courses:read", "courses:write"})
"""The scopes of a key that lists none: not the audit trail, not the feedback summary."""
TENANT_RULE = "1–64 letters, digits, '.', '_' or '-', starting with a letter or digit"
MIN_HMAC_KEY_LENGTH = 32
JURISDICTIONS = ("US", "EU", "UK")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key: its ID (the only part ever logged or audited), secret, tenant and scopes."""

    key_id: str
    secret: SecretStr
    tenant: str = DEFAULT_TENANT
    scopes: frozenset[str] = DEFAULT_SCOPES


def is_tenant(value: object) -> bool:
    """Whether ``value`` is a valid tenant name."""
    return isinstance(value, str) and bool(_TENANT.match(value))


def _scopes(names: list[str], where: str) -> frozenset[str]:
    """Check scope names (never echoed: a mistyped entry may hold part of a secret)."""
    if not names:
        raise ValueError(f"{where}: no scopes listed")
    for i, name in enumerate(names, start=1):
        if name not in SCOPES:
            raise ValueError(f"{where}: scope {i} is not one of {', '.join(SCOPES)}")
    return frozenset(names)


def _api_key(key_id: str, secret: str, tenant: str, scopes: frozenset[str], where: str) -> ApiKey:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"{where}: the secret of {key_id} is shorter than {MIN_SECRET_LENGTH}")
    if not is_tenant(tenant):
        raise ValueError(f"{where}: the tenant of {key_id} must be {TENANT_RULE}")
    return ApiKey(key_id, SecretStr(secret), tenant, scopes)


def parse_api_keys(text: str, where: str) -> dict[str, ApiKey]:
    """Parse API key entries into key ID → :class:`ApiKey`.

    Entries are comma- or newline-separated (``#`` starts a comment line), each one of::

        key_id:secret                          tenant "default", the default scopes
        key_id:secret:tenant                   the default scopes
        key_id:secret:tenant:scope+scope…      e.g. ehr-a:…:clinic-a:evaluate+courses:read

    A secret therefore holds no ``:`` (the JSON keys file takes any secret). Error messages name
    the setting and the key ID, never a secret or what may be part of one.
    """
    keys: dict[str, ApiKey] = {}
    for raw in re.split(r"[,\n]", text):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, rest = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ValueError(
                f"{where}: each entry must be key_id:secret, key_id:secret:tenant or "
                "key_id:secret:tenant:scope+scope with a simple key_id"
            )
        if key_id in keys:
            raise ValueError(f"{where}: key_id {key_id} appears twice")
        secret, sep, meta = rest.partition(":")
        tenant, scopes = DEFAULT_TENANT, DEFAULT_SCOPES
        if sep:
            tenant, sep, listed = meta.partition(":")
            if not is_tenant(tenant):
                raise ValueError(
                    f"{where}: the tenant of {key_id} (after its secret) must be {TENANT_RULE}; "
                    "a secret holds no ':'"
                )
            if sep:
                names = listed.split("+") if listed else []
                scopes = _scopes(names, f"{where}: key_id {key_id}")
        keys[key_id] = _api_key(key_id, secret, tenant, scopes, where)
    return keys


_KEY_FIELDS = frozenset({"key_id", "secret", "tenant", "scopes"})


def parse_api_keys_json(text: str, where: str) -> dict[str, ApiKey]:
    """Parse a JSON keys file: an array of ``{"key_id", "secret", "tenant"?, "scopes"?}``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, list):
        raise ValueError(f"{where}: must be a JSON array of key objects")
    keys: dict[str, ApiKey] = {}
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"{where}: key [{i}] must be an object")
        key_id = item.get("key_id")
        if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
            raise ValueError(f"{where}: key [{i}] needs a simple 'key_id'")
        unknown = sorted(set(item) - _KEY_FIELDS)
        if unknown:
            raise ValueError(f"{where}: key_id {key_id}: unknown field(s) {', '.join(unknown)}")
        if key_id in keys:
            raise ValueError(f"{where}: key_id {key_id} appears twice")
        secret = item.get("secret")
        if not isinstance(secret, str):
            raise ValueError(f"{where}: key_id {key_id} needs a 'secret' string")
        tenant = item.get("tenant", DEFAULT_TENANT)
        listed = item.get("scopes")
        scopes = DEFAULT_SCOPES
        if listed is not None:
            if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
                raise ValueError(f"{where}: key_id {key_id}: 'scopes' must be an array of strings")
            scopes = _scopes(listed, f"{where}: key_id {key_id}")
        keys[key_id] = _api_key(key_id, secret, tenant, scopes, where)
    return keys


def _check_fhir_server(url: Any, where: str) -> None:
    if not isinstance(url, str):
        raise ValueError(f"{where}: must be a URL string")
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    raise ValueError(f"{where}: must be https (http only on loopback)")


def load_cds_clients(path: Path) -> list[dict[str, Any]]:
    """Load and check the trusted CDS Hooks clients file (a JSON array of client objects)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, list):
        raise ValueError("must be a JSON array of client objects")
    seen: set[str] = set()
    for i, client in enumerate(data):
        where = f"client [{i}]"
        if not isinstance(client, dict):
            raise ValueError(f"{where}: must be an object")
        iss = client.get("iss")
        if not isinstance(iss, str) or not iss:
            raise ValueError(f"{where}: 'iss' is required")
        where = f"client {iss}"
        if iss in seen:
            raise ValueError(f"{where}: appears twice")
        seen.add(iss)
        if client.get("jurisdiction") not in JURISDICTIONS:
            raise ValueError(f"{where}: 'jurisdiction' must be US, EU or UK")
        has_jwks, has_jku = "jwks" in client, "jku" in client
        if has_jwks == has_jku:
            raise ValueError(f"{where}: exactly one of 'jwks' or 'jku' is required")
        if has_jwks and not (
            isinstance(client["jwks"], dict) and isinstance(client["jwks"].get("keys"), list)
        ):
            raise ValueError(f"{where}: 'jwks' must be a JWK Set with a 'keys' array")
        if has_jku:
            _check_fhir_server(client["jku"], f"{where}: 'jku'")
        profile = client.get("lab_profile")
        if profile is not None and (
            client["jurisdiction"] != "US" or profile not in ("label", "evidence")
        ):
            raise ValueError(f"{where}: 'lab_profile' is US only: 'label' or 'evidence'")
        home = client.get("home_testing_permitted_default")
        if home is not None and not isinstance(home, bool):
            raise ValueError(f"{where}: 'home_testing_permitted_default' must be true or false")
        coding = client.get("pregnancy_potential_coding")
        if coding is not None and not (
            isinstance(coding, dict)
            and isinstance(coding.get("system"), str)
            and isinstance(coding.get("code"), str)
        ):
            raise ValueError(f"{where}: 'pregnancy_potential_coding' needs a system and a code")
        servers = client.get("fhir_servers", [])
        if not isinstance(servers, list):
            raise ValueError(f"{where}: 'fhir_servers' must be an array of base URLs")
        for j, url in enumerate(servers):
            _check_fhir_server(url, f"{where}: fhir_servers[{j}]")
        tenant = client.get("tenant")
        if tenant is None and len(data) > 1:
            raise ValueError(
                f"{where}: 'tenant' is required when more than one client is configured"
            )
        if tenant is not None and not is_tenant(tenant):
            raise ValueError(f"{where}: 'tenant' must be {TENANT_RULE}")
    return data  # a single client without a tenant is in tenant "default" (Client.from_config)


class Settings(BaseSettings):
    """Every ``ISOCDS_*`` setting of the foundation issue's table."""

    model_config = SettingsConfigDict(env_prefix="ISOCDS_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    auth: Literal["required", "disabled"] = "required"
    api_keys: SecretStr = SecretStr("")
    api_keys_file: Path | None = None
    cds_clients_file: Path | None = None
    public_base_url: str | None = None
    ipledge_2026_effective: date = date(2026, 8, 8)
    lab_profile_us: Literal["label", "evidence"] = "label"
    eu_post_therapy_test: Literal["1-month", "5-weeks"] = "1-month"
    local_policy_file: Path | None = None
    timezone: str = "UTC"
    cors_origins: str = ""
    max_body_bytes: int = Field(default=262144, ge=1024, le=64 * 1024 * 1024)
    fhir_timeout_s: float = Field(default=1.5, gt=0, le=30)
    fhir_max_bytes: int = Field(default=5 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    max_header_bytes: int = Field(default=32768, ge=8192, le=1024 * 1024)
    audit_hmac_key: SecretStr | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    db: DbSettings = Field(default_factory=DbSettings)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError("must be an absolute http(s) URL without a query")
        return value.rstrip("/")

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
                raise ValueError(f"{origin!r} is not an origin like https://ehr.example.org")
        return value

    @field_validator("audit_hmac_key")
    @classmethod
    def _hmac_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_HMAC_KEY_LENGTH:
            raise ValueError(f"must be at least {MIN_HMAC_KEY_LENGTH} characters")
        return value

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, value: SecretStr) -> SecretStr:
        parse_api_keys(value.get_secret_value(), "ISOCDS_API_KEYS")
        return value

    @field_validator("api_keys_file", "cds_clients_file", "local_policy_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.auth == "disabled" and not is_loopback(self.host):
            raise ValueError(
                "ISOCDS_AUTH=disabled is for local trials only: ISOCDS_HOST must be a loopback "
                f"address, not {self.host}"
            )
        return self

    # --- derived values -------------------------------------------------------------------

    @property
    def timezone_set(self) -> bool:
        """Whether ``ISOCDS_TIMEZONE`` was given (a warning is logged when it was not)."""
        return "timezone" in self.model_fields_set

    def origins(self) -> tuple[str, ...]:
        """The CORS allow-list (empty: CORS off)."""
        return tuple(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())

    def keys(self) -> dict[str, ApiKey]:
        """Key ID → key, from ``ISOCDS_API_KEYS`` and ``ISOCDS_API_KEYS_FILE`` (lines of entries,
        or JSON when the file starts with ``[`` or ``{``). No two keys share a secret: a secret
        names one key, so one tenant and one set of scopes."""
        keys = parse_api_keys(self.api_keys.get_secret_value(), "ISOCDS_API_KEYS")
        if self.api_keys_file is not None:
            where = "ISOCDS_API_KEYS_FILE"
            text = self.api_keys_file.read_text(encoding="utf-8")
            json_file = text.lstrip().startswith(("[", "{"))
            parse = parse_api_keys_json if json_file else parse_api_keys
            for key_id, key in parse(text, where).items():
                if key_id in keys:
                    raise SettingsError(f"{where}: key_id {key_id} is also in ISOCDS_API_KEYS")
                keys[key_id] = key
        owners: dict[str, str] = {}
        for key in keys.values():
            other = owners.setdefault(key.secret.get_secret_value(), key.key_id)
            if other != key.key_id:
                raise SettingsError(
                    f"ISOCDS_API_KEYS: key_id {key.key_id} has the same secret as {other}"
                )
        return keys

    def cds_clients(self) -> list[dict[str, Any]]:
        """The trusted CDS Hooks clients (empty without a clients file)."""
        if self.cds_clients_file is None:
            return []
        return load_cds_clients(self.cds_clients_file)

    def local_policy(self) -> LocalPolicy:
        """The local policy in force: the defaults, overridden by the policy file."""
        if self.local_policy_file is None:
            return LocalPolicy()
        try:
            data = json.loads(self.local_policy_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SettingsError(
                f"ISOCDS_LOCAL_POLICY_FILE: not valid JSON (line {exc.lineno})"
            ) from None
        try:
            return LocalPolicy.from_mapping(data)
        except PolicyError as exc:
            raise SettingsError(f"ISOCDS_LOCAL_POLICY_FILE: {exc}") from None

    def evaluation(self) -> EvaluationSettings:
        """The clinical settings handed to the domain."""
        return EvaluationSettings(
            ipledge_2026_effective=self.ipledge_2026_effective,
            lab_profile_us=LabProfile(self.lab_profile_us),
            eu_post_therapy_test=PostTherapyTest(self.eu_post_therapy_test),
            local_policy=self.local_policy(),
        )

    def zone(self) -> ZoneInfo:
        """The zone of "today" when ``as_of`` is absent."""
        return ZoneInfo(self.timezone)


def require_public_base_url(settings: Settings, clients: list[dict[str, Any]]) -> None:
    """Refuse CDS Hooks clients without ``ISOCDS_PUBLIC_BASE_URL`` (raises :class:`SettingsError`).

    The JWT ``aud`` is checked against that URL. Taken from the request's ``Host`` header
    instead, it would be whatever the caller sent, so a token minted for another CDS service the
    EHR calls could be replayed here. ``ISOCDS_AUTH=disabled`` (loopback only) checks no JWT.
    """
    if clients and settings.auth != "disabled" and not settings.public_base_url:
        raise SettingsError(
            "ISOCDS_PUBLIC_BASE_URL: must be set when ISOCDS_CDS_CLIENTS_FILE names CDS Hooks "
            "clients: it is the external URL the EHR calls (e.g. https://cds.example.org), and "
            "every JWT aud is checked against it, never against the Host header"
        )


def _env_name(loc: tuple[int | str, ...]) -> str:
    if loc and loc[0] == "db" and len(loc) > 1:
        loc = loc[1:]
    field = str(loc[0]) if loc else "settings"
    return f"ISOCDS_{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Read and check every setting; raise :class:`SettingsError` naming the bad ones.

    Files named by settings (API keys, CDS clients, local policy) are read and checked here too,
    so that a bad file stops start-up rather than the first request.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            name = _env_name(loc) if loc else "settings"
            message = str(err["msg"]).removeprefix("Value error, ")
            # A message that already names its setting (the API key parser's) is kept as is.
            lines.append(message if message.startswith(f"{name}:") else f"{name}: {message}")
        raise SettingsError("; ".join(lines)) from None
    try:
        settings.keys()
    except ValueError as exc:
        raise SettingsError(str(exc)) from None  # the message names the setting
    except OSError as exc:
        raise SettingsError(f"ISOCDS_API_KEYS_FILE: {exc}") from None
    try:
        clients = settings.cds_clients()
    except ValueError as exc:
        raise SettingsError(f"ISOCDS_CDS_CLIENTS_FILE: {exc}") from None
    require_public_base_url(settings, clients)
    settings.evaluation()
    return settings
