"""Settings: zero-configuration defaults, LIVENESS_* variables, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveness_lab.errors import ConfigError
from liveness_lab.service.settings import Settings, get_settings, parse_duration


def test_defaults_need_no_configuration():
    s = get_settings({})
    assert s.env == "local" and s.analyzer == "mesh" and s.profile is None  # secure default
    assert s.data_dir == Path(".liveness-lab")
    assert s.sqlite_file == Path(".liveness-lab/challenges.sqlite3")
    assert s.frames_path == Path(".liveness-lab/frames")
    assert s.token_ttl_s == 180 and s.client_challenge_selection is False  # as Rekognition
    assert s.retention == 86400 and s.max_failed_verifies == 5  # retention and lockout on
    assert s.cors_origins == () and s.auth == "none" and s.test_seed is None
    assert s.max_frame_bytes == 15_728_640  # the original's limit


def test_environment_variables_are_parsed():
    s = get_settings({
        "LIVENESS_TOKEN_TTL_S": "5m",
        "LIVENESS_CORS_ORIGINS": "https://a.example, https://b.example",
        "LIVENESS_CONFIG_SETS": '["nose.min_dist=0.2"]',
        "LIVENESS_CLIENT_CHALLENGE_SELECTION": "true",
        "LIVENESS_ANALYZER_OPTIONS": '{"landmarks": "5"}', "LIVENESS_RETENTION": "30d",
        "LIVENESS_DATA_DIR": "/tmp/x", "LIVENESS_MAX_FRAMES_PER_CHALLENGE": "50",
        "OTHER": "ignored"})
    assert s.token_ttl_s == 300
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.config_sets == ("nose.min_dist=0.2",)
    assert s.client_challenge_selection is True
    assert s.analyzer_options == {"landmarks": "5"}
    assert s.retention == 30 * 86400 and s.data_dir == Path("/tmp/x")
    assert s.max_frames_per_challenge == 50


def test_overrides_win_over_the_environment():
    s = get_settings({"LIVENESS_ANALYZER": "rekognition"}, analyzer="recorded")
    assert s.analyzer == "recorded"


def test_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# comment\nLIVENESS_PORTLESS=1\nexport LIVENESS_PROFILE='seed'\n"
                   "LIVENESS_MAX_FRAME_BYTES=4096\n")
    with pytest.warns(UserWarning, match="LIVENESS_PORTLESS"):
        s = get_settings({"LIVENESS_MAX_FRAME_BYTES": "8192"}, env_file=env)
    assert s.max_frame_bytes == 8192  # the real environment wins


@pytest.mark.parametrize("env, fragment", [
    ({"LIVENESS_TOKEN_TTL_S": "soon"}, "LIVENESS_TOKEN_TTL_S"),
    ({"LIVENESS_AUTH": "password"}, "LIVENESS_AUTH"),
    ({"LIVENESS_TEST_SEED": "7"}, "LIVENESS_ENV=test"),
    ({"LIVENESS_AUTH": "api_key"}, "api_keys"),
    ({"LIVENESS_AUTH": "jwt"}, "jwt_jwks_url"),
    ({"LIVENESS_CHALLENGE_STORE": "dynamodb"}, "dynamodb_table"),
    ({"LIVENESS_FRAME_STORE": "s3"}, "s3_bucket"),
    ({"LIVENESS_TOKEN_SECRET": "short"}, "32 characters"),
    ({"LIVENESS_ENV": "production"}, "explicit token secret"),
    ({"LIVENESS_ENV": "production", "LIVENESS_ANALYZER": "recorded",
      "LIVENESS_TOKEN_SECRET": "s" * 40}, "recorded"),
    ({"LIVENESS_ANALYZER_OPTIONS": "[1]"}, "LIVENESS_ANALYZER_OPTIONS"),
    ({"LIVENESS_CONFIG_SETS": "nose"}, "TYPE.key=value"),
])
def test_bad_settings_are_refused_with_the_variable_named(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        get_settings(env)


def test_the_test_seed_needs_the_test_environment_or_an_explicit_flag():
    assert get_settings({"LIVENESS_ENV": "test", "LIVENESS_TEST_SEED": "7"}).test_seed == 7
    assert get_settings({"LIVENESS_TEST_SEED": "7",
                         "LIVENESS_ALLOW_INSECURE_TEST_SEED": "1"}).test_seed == 7
    with pytest.raises(ConfigError, match="production"):
        get_settings({"LIVENESS_ENV": "production", "LIVENESS_TEST_SEED": "7",
                      "LIVENESS_ALLOW_INSECURE_TEST_SEED": "1",
                      "LIVENESS_TOKEN_SECRET": "s" * 40})


@pytest.mark.parametrize("text, seconds", [
    ("30d", 30 * 86400), ("12h", 43200), ("45m", 2700), ("90s", 90), ("2w", 1209600),
    ("1.5h", 5400), ("600", 600), (42, 42)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "-3d", "0", "3 years", True, None])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_frame_request_limit_leaves_room_for_base64():
    s = Settings()
    assert s.max_frame_request_bytes > s.max_frame_bytes * 4 / 3
    assert Settings(analyzer="recorded").max_frame_request_bytes > s.max_frame_request_bytes
