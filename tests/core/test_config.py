import pytest

from bot.config import ConfigError, duration_hours, load_settings


def test_defaults_are_the_embedded_ones(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.database_url == "sqlite:///followthrough.db"
    assert s.llm_engine == "rules"
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.reminder_hours == 24 and s.escalate_hours == 48


@pytest.mark.parametrize(
    ("var", "value", "named"),
    [
        ("LLM_ENGINE", "gpt", "LLM_ENGINE"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "DEFAULT_TIMEZONE"),
        ("STEP_REMINDER_AFTER", "2x", "STEP_REMINDER_AFTER"),
        ("PORT", "http", "PORT"),
        ("SLACK_API_URL", "ftp://x", "SLACK_API_URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
    ],
)
def test_malformed_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path, var: str, value: str, named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    message = str(exc.value)
    assert named in message and "\n" not in message


def test_missing_required_setting_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        s.require("slack_signing_secret")


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LLM_MODEL=local-model\nCS_ADMINS=U1, ana@x.io\n")
    s = load_settings()
    assert s.llm_model == "local-model"
    assert s.cs_admins == ["U1", "ana@x.io"]


def test_durations() -> None:
    assert duration_hours("1d12h") == 36
    assert duration_hours("90m") == 1.5
    assert duration_hours("8") == 8
    with pytest.raises(ValueError):
        duration_hours("soon")


def test_env_example_lists_every_setting() -> None:
    from pathlib import Path

    from bot.config import Settings, env_example

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"{name.upper()}=" in example, name
    assert example == env_example(), "regenerate .env.example (see bot.config.env_example)"


def test_env_example_copied_as_is_loads(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    example = Path(__file__).resolve().parents[2] / ".env.example"
    (tmp_path / ".env").write_text(example.read_text())
    assert load_settings().llm_engine == "rules"
