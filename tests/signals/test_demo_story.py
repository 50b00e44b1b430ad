"""The signals demo story: a health-score drop becomes one suggested case that Maya starts,
and a Zoom call's commitments arrive in her DM without an upload."""

from __future__ import annotations

from bot.devtools.demo import run_demo


def test_signals_story() -> None:
    transcript = "\n".join(run_demo(stories=("signals",), echo=False))
    assert "HTTP 202" in transcript and "SUGGESTED CASE: ACME CORP" in transcript
    assert "health_score` *38* (was 71) from *vitally*" in transcript
    assert "(usage dip) is running" in transcript
    assert "2 signals; 1 usage-dip suggestion for Acme" in transcript
    assert "endpoint.url_validation): ok" in transcript
    assert "COMMITMENTS FROM ACME <> VENDOR: USAGE FOLLOW-UP" in transcript
    assert "fixed SSO setup guide by Wednesday" in transcript
