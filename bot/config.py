"""Every setting of the app, read from the environment and an optional `.env` file.

One module so that `.env.example`, the README's table and the code cannot drift apart: each
field's description is the one-line comment shown in `.env.example`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$", re.I)


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(RuntimeError):
    """A missing or malformed setting; the message is one line naming it."""


class CrmVendor(StrEnum):
    NONE = "none"
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"


class Engine(StrEnum):
    RULES = "rules"
    OPENAI = "openai"


def duration_hours(text: str) -> float:
    """'24h', '2d', '90m', '1d12h' or a bare number of hours → hours."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    m = _DURATION.match(text)
    if not text or not m or not any(m.groups()):
        raise ValueError(f"'{text}' is not a duration; use e.g. 24h, 2d or 90m")
    d, h, mins = (int(g or 0) for g in m.groups())
    return d * 24 + h + mins / 60


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", env_file_encoding="utf-8", env_ignore_empty=True
    )

    slack_bot_token: str | None = Field(
        None, description="Bot token (xoxb-…) from OAuth & Permissions: one workspace, no OAuth"
    )
    slack_signing_secret: str | None = Field(
        None, description="Signing secret from Basic Information; verifies every request"
    )
    slack_app_token: str | None = Field(
        None, description="App-level token (xapp-…, connections:write) for Socket Mode"
    )
    slack_client_id: str | None = Field(
        None,
        description="Client ID from Basic Information: with SLACK_CLIENT_SECRET, any workspace installs the app at /slack/install (OAuth)",
    )
    slack_client_secret: str | None = Field(
        None, description="Client Secret from Basic Information (OAuth installs)"
    )
    slack_api_url: str = Field(
        "https://slack.com/api/",
        description="Slack Web API base URL (point at a Slack-compatible server for testing; OAuth's /oauth/v2/authorize is on the same host)",
    )
    database_url: str = Field(
        "sqlite:///followthrough.db",
        description="SQLAlchemy URL: SQLite file by default, or postgresql+psycopg://user:pw@host/db",
    )
    llm_engine: Engine = Field(
        Engine.RULES,
        description="LLM step engine: rules (offline, default) or openai (any OpenAI-compatible server)",
    )
    openai_api_key: str | None = Field(None, description="API key for the openai engine")
    openai_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server (empty = OpenAI)"
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name for the openai engine")
    llm_timeout_seconds: float = Field(
        60.0, gt=0, description="Timeout of one LLM request in seconds"
    )
    llm_api_version: str | None = Field(
        None,
        description="Azure OpenAI api-version (set for Azure: OPENAI_BASE_URL = https://<resource>.openai.azure.com, LLM_MODEL = the deployment)",
    )
    llm_context_tokens: int | None = Field(
        None,
        gt=0,
        description="Context length of the model in tokens (empty = ask the server: vLLM, llama.cpp, Ollama)",
    )
    log_level: str = Field("INFO", description="Logging level: DEBUG, INFO, WARNING, ERROR")
    default_timezone: str = Field(
        "America/New_York", description="Timezone for people whose Slack profile has none"
    )
    cs_channel: str | None = Field(
        None, description="Channel id or #name where case cards are posted (empty = reporter only)"
    )
    cs_admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated Slack user ids or emails of CS admins"
    )
    run_scheduler: bool = Field(
        True, description="Run the scheduler inside serve/socket (single-process install)"
    )
    scheduler_interval_seconds: float = Field(
        5.0, gt=0, description="How often the scheduler runs run_due"
    )
    worker_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness of `followthrough worker` (0 = none): where it shares a "
        "machine with `serve`, Slack's acks get the CPU first",
    )
    step_reminder_after: str = Field(
        "24h", description="Working hours without a decision before one reminder"
    )
    step_escalate_after: str = Field(
        "48h", description="Working hours without a decision before the case owner is told"
    )
    step_lease_seconds: int = Field(
        120,
        gt=0,
        description="A claimed message not sent within this is looked up in Slack, then retried (at least 3 x SLACK_TIMEOUT_SECONDS)",
    )
    slack_timeout_seconds: float = Field(
        15.0, gt=0, le=120, description="Timeout of one Slack Web API request in seconds"
    )
    workday_start_hour: int = Field(
        9, ge=0, le=23, description="Start of the working day in each person's timezone"
    )
    workday_end_hour: int = Field(
        18, ge=1, le=24, description="End of the working day in each person's timezone"
    )
    workdays: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"],
        description="Working days, comma-separated (e.g. sun,mon,tue,wed,thu)",
    )
    digest_hour: int = Field(
        9, ge=0, le=23, description="Default local hour of the daily DM digest"
    )
    transcript_retention_days: int | None = Field(
        None,
        ge=1,
        description="Purge transcript text after N days (empty = keep); commitments and hashes stay",
    )
    uninstalled_retention_days: int | None = Field(
        None,
        ge=0,
        description="Delete a workspace's data N days after it uninstalls the app (empty = keep until `followthrough purge`)",
    )
    max_transcript_mb: float = Field(
        20.0, gt=0, description="Largest transcript file accepted, in MB"
    )
    smtp_url: str | None = Field(
        None, description="smtp://user:pw@host:port to send email steps (empty = copy/mailto only)"
    )
    port: int = Field(
        3000, gt=0, lt=65536, description="HTTP port for `serve` (Procfile passes $PORT)"
    )
    web_threads: int = Field(
        8,
        ge=1,
        le=128,
        description="Requests `serve` works on at once (raise it if many wait on a slow Slack)",
    )
    signals_webhook_secret: str | None = Field(
        None,
        description="whsec_… secret that signs POST /signals (Standard Webhooks) in single-workspace mode",
    )
    transcripts_webhook_secret: str | None = Field(
        None,
        description="whsec_… secret that signs POST /transcripts (Standard Webhooks) in single-workspace mode",
    )
    zoom_webhook_secret_token: str | None = Field(
        None,
        description="Zoom app's Secret Token: checks x-zm-signature and answers URL validation on POST /webhooks/zoom",
    )
    signal_rules_dir: str | None = Field(
        None,
        description="Folder of signal rule YAML files the worker watches (empty = the seed rules in prompts/signals)",
    )
    signal_snooze: str = Field(
        "3d", description="How long 'Not now' puts a suggested case aside before asking again"
    )
    max_signal_kb: int = Field(
        256, gt=0, description="Largest POST /signals body accepted, in KB (larger: 413)"
    )
    crm_vendor: CrmVendor = Field(
        CrmVendor.NONE,
        description="CRM that holds your book of business: none, hubspot or salesforce",
    )
    crm_mapping_file: str | None = Field(
        None,
        description="YAML file mapping CRM fields to accounts and contacts (empty = the shipped default, bot/crm/mapping.yaml)",
    )
    crm_sync_minutes: float = Field(
        15.0, gt=0, description="Minutes between incremental CRM syncs in the worker"
    )
    crm_write_back: bool = Field(
        True,
        description="Write confirmed commitments (tasks) and closed cases (notes) back to the CRM",
    )
    crm_timeout_seconds: float = Field(
        30.0, gt=0, description="Timeout of one CRM request in seconds"
    )
    hubspot_api_url: str = Field(
        "https://api.hubapi.com",
        description="HubSpot API base URL (point at a HubSpot-compatible server for testing)",
    )
    hubspot_app_url: str = Field(
        "https://app.hubspot.com", description="HubSpot web app URL, for record links on case cards"
    )
    hubspot_token: str | None = Field(None, description="HubSpot private-app access token (pat-…)")
    hubspot_client_id: str | None = Field(
        None, description="HubSpot OAuth app client id (instead of a private-app token)"
    )
    hubspot_client_secret: str | None = Field(None, description="HubSpot OAuth app client secret")
    hubspot_refresh_token: str | None = Field(
        None, description="HubSpot OAuth refresh token of the installed portal"
    )
    salesforce_login_url: str = Field(
        "https://login.salesforce.com",
        description="Salesforce login URL (test.salesforce.com, a My Domain, or a Salesforce-compatible server); the instance URL comes from the token answer",
    )
    salesforce_client_id: str | None = Field(
        None, description="Salesforce connected app consumer key"
    )
    salesforce_client_secret: str | None = Field(
        None, description="Salesforce connected app consumer secret (refresh-token flow)"
    )
    salesforce_username: str | None = Field(
        None, description="Salesforce integration user (JWT bearer flow)"
    )
    salesforce_private_key_file: str | None = Field(
        None, description="PEM private key of the connected app's certificate (JWT bearer flow)"
    )
    salesforce_refresh_token: str | None = Field(
        None, description="Salesforce OAuth refresh token (refresh-token flow, instead of JWT)"
    )
    salesforce_api_version: str = Field("59.0", description="Salesforce REST API version")

    @field_validator("cs_admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("workdays", mode="before")
    @classmethod
    def _split_days(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v.strip().lower()[:3] for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            bad = [v for v in value if v not in DAY_NAMES]
            if bad or not value:
                raise ValueError(f"'{','.join(bad) or value}' is not a list of days like mon,tue")
        return value

    @property
    def workday_numbers(self) -> frozenset[int]:
        """Working days as `datetime.weekday()` numbers (Monday = 0)."""
        return frozenset(DAY_NAMES.index(d) for d in self.workdays)

    @field_validator("step_reminder_after", "step_escalate_after", "signal_snooze")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        duration_hours(value)
        return value

    @field_validator("default_timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{value}' is not an IANA timezone such as Europe/Berlin") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        return _token_shape(value, "bot")

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        return _token_shape(value, "app")

    @field_validator("slack_signing_secret", "slack_client_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value and value.startswith(("xox", "xapp-")):
            raise ValueError(
                "looks like a token; it is a secret from Basic Information → App Credentials"
            )
        return value

    @field_validator("slack_client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value and not re.fullmatch(r"\d+\.\d+", value):
            raise ValueError(
                "must look like 1234567890.1234567890 (Basic Information → App Credentials)"
            )
        return value

    @field_validator("hubspot_api_url", "hubspot_app_url", "salesforce_login_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("slack_api_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @property
    def reminder_hours(self) -> float:
        return duration_hours(self.step_reminder_after)

    @property
    def escalate_hours(self) -> float:
        return duration_hours(self.step_escalate_after)

    @property
    def has_slack_tokens(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def oauth_enabled(self) -> bool:
        """OAuth mode: workspaces install at /slack/install; each has its own bot token."""
        return bool(self.slack_client_id or self.slack_client_secret)

    @property
    def slack_connected(self) -> bool:
        """Slack can be asked: a bot token (one workspace) or OAuth installs."""
        return bool(self.slack_bot_token) or self.oauth_enabled

    @property
    def oauth_authorize_url(self) -> str:
        """Slack's consent page, on the host that serves the Web API (the stand-in in tests)."""
        return self.slack_api_url.removesuffix("api/") + "oauth/v2/authorize"

    def check_slack_mode(self) -> None:
        """One way to reach Slack: SLACK_BOT_TOKEN (one workspace) or OAuth, never both."""
        if self.slack_bot_token and self.oauth_enabled:
            raise ConfigError(
                "Configuration error: SLACK_BOT_TOKEN and SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are "
                "both set; keep SLACK_BOT_TOKEN for one workspace, or the client id and secret "
                "for OAuth installs (then remove SLACK_BOT_TOKEN)"
            )
        if self.oauth_enabled:
            self.require("slack_client_id", "slack_client_secret")

    def require(self, *names: str) -> None:
        """Stop with one line naming the first missing setting a command needs."""
        for name in names:
            if not getattr(self, name):
                raise ConfigError(
                    f"Configuration error: {name.upper()} is not set (see .env.example)"
                )


_TOKEN_KINDS = {
    "xoxb-": "a bot token (xoxb-…)",
    "xoxe.xoxb-": "a rotating bot token (xoxe.xoxb-…)",
    "xoxp-": "a user token (xoxp-…)",
    "xoxe.xoxp-": "a rotating user token (xoxe.xoxp-…)",
    "xapp-": "an app-level token (xapp-…)",
    "xoxe-": "a refresh token (xoxe-…)",
}


def _token_shape(value: str | None, want: str) -> str | None:
    """A token pasted into the wrong setting is named for what it is, with where to get the
    right one (Slack's prefixes: xoxb bot, xoxp user, xapp app-level, xoxe refresh)."""
    value = (value or "").strip() or None
    if value is None:
        return None
    ok = ("xoxb-", "xoxe.xoxb-") if want == "bot" else ("xapp-",)
    if value.startswith(ok):
        return value
    kind = next((k for p, k in _TOKEN_KINDS.items() if value.startswith(p)), None)
    where = (
        "the Bot User OAuth Token (xoxb-…) from OAuth & Permissions"
        if want == "bot"
        else "an App-Level Token (xapp-…) with connections:write from Basic Information"
    )
    said = f"is {kind}" if kind else "is not a Slack token"
    raise ValueError(f"{said}; it must be {where}")


def _one_line(err: Any) -> str:
    name = str(err["loc"][0]).upper() if err.get("loc") else "settings"
    msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    return f"Configuration error: {name} {msg}"


ENV_EXAMPLE_HEADER = (
    "# Followthrough settings. Copy to .env (never commit .env) and fill in what you use.\n"
    "# Every setting can also be set as an environment variable.\n"
)


def env_example() -> str:
    """The text of `.env.example`: every setting with its description and default
    (`python -c "from bot.config import env_example; print(env_example(), end='')" > .env.example`)."""
    out = [ENV_EXAMPLE_HEADER]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, list):
            shown = ",".join(str(v) for v in default)
        elif default is None:
            shown = ""
        elif isinstance(default, bool):
            shown = str(default).lower()
        else:
            shown = str(default)
        out.append(f"\n# {field.description}\n{name.upper()}={shown}\n")
    return "".join(out)


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value becomes a ConfigError with one line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_one_line(exc.errors()[0])) from None


def settings_errors(**overrides: object) -> list[str]:
    """Every malformed setting, one line each (`followthrough doctor` lists them all)."""
    try:
        Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        return [_one_line(err) for err in exc.errors()]
    return []


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
