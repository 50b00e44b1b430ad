"""Scheduled recorder work: download due transcripts (with the recorder's token), retry
failures with backoff, and tell the host (through the outbox) when a download keeps failing
or its token expired."""

from __future__ import annotations

import datetime as dt
import logging

import httpx

from bot.capture.extract import max_bytes
from bot.notify import Notifier
from bot.recorders import service
from bot.runtime import Runtime

log = logging.getLogger(__name__)
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class DownloadError(Exception):
    def __init__(self, reason: str, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


def download(url: str, token: str | None, limit: int) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.stream(
            "GET", url, headers=headers, timeout=TIMEOUT, follow_redirects=True
        ) as resp:
            if resp.status_code in (401, 403):
                raise DownloadError(
                    "the recorder refused the download token (it lasts 24 hours)", True
                )
            if resp.status_code == 404:
                raise DownloadError("the recording is gone from the recorder", False)
            if resp.status_code >= 400:
                raise DownloadError(f"the recorder answered HTTP {resp.status_code}", True)
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise DownloadError(f"the transcript is over {limit // 1048576} MB", False)
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise DownloadError(
            f"the recorder could not be reached ({type(exc).__name__})", True
        ) from None


def run_downloads(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: fetch claimed deliveries and hand them to capture."""
    done = 0
    for delivery_id, attempt in service.claim_due(rt.engine, now):
        row = service.get(rt.engine, delivery_id)
        try:
            if row.content is not None:
                data = row.content
            elif row.download_url:
                data = download(row.download_url, row.download_token, max_bytes(rt.settings))
            else:
                raise DownloadError("the delivery had no transcript and no download link", False)
        except DownloadError as exc:
            log.info("recorder delivery %s attempt %s failed: %s", delivery_id, attempt, exc)
            service.failed_attempt(
                rt.engine,
                delivery_id,
                attempt,
                str(exc),
                retry=exc.retry,
                now=now,
                directory=notifier,
            )
            continue
        handed = service.hand_to_capture(rt.engine, delivery_id, attempt, data, notifier)
        if handed is not None:
            done += 1
    return done


DUE_JOBS = [("recorders.downloads", run_downloads)]
