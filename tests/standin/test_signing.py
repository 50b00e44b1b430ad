from slack_sdk.signature import SignatureVerifier

from bot.devtools.standin.signing import sign, slack_headers

VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TS = "1531420618"
VECTOR_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_matches_slack_documented_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_TS, VECTOR_BODY.encode()) == VECTOR_SIG


def test_headers_verify_with_slack_sdk_and_stale_ones_do_not() -> None:
    body = b"payload=%7B%7D"
    verifier = SignatureVerifier("s3cret")
    fresh = slack_headers("s3cret", body, "application/x-www-form-urlencoded")
    assert verifier.is_valid_request(body, fresh)
    stale = slack_headers(
        "s3cret", body, "application/x-www-form-urlencoded", timestamp_offset=-360
    )
    assert not verifier.is_valid_request(body, stale)
    assert not verifier.is_valid_request(body + b" ", fresh)


def test_unsigned_and_forced_signature() -> None:
    unsigned = slack_headers("s", b"x", "application/json", sign_request=False)
    assert "X-Slack-Signature" not in unsigned
    assert unsigned["User-Agent"].startswith("Slackbot 1.0")
    forced = slack_headers("s", b"x", "application/json", signature="v0=bad")
    assert forced["X-Slack-Signature"] == "v0=bad"
