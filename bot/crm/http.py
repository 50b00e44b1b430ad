"""The HTTP edge both connectors share: httpx plus tenacity.

Rate limits (HubSpot 429 with `policyName`, Salesforce 403 `REQUEST_LIMIT_EXCEEDED`), 5xx
and network errors are retried with backoff (a `Retry-After` is honoured); an expired token
is refreshed once through the connector's `reauth`; what still fails becomes a `CrmError`
saying whether a later try may work. Tokens never reach the log.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception

from bot.crm.connector import CrmAuthError, CrmError

log = logging.getLogger(__name__)
MAX_WAIT = 30.0


OUTAGE_ATTEMPTS = 2  # a CRM that is down is not hammered: the job tries again next tick


class _Retry(Exception):
    def __init__(
        self, error: CrmError, wait: float | None, outage: bool = False, auth: bool = False
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait
        self.outage = outage
        self.auth = auth  # refused token, now refreshed: the request never took effect


class CrmHttp:
    """One vendor's HTTP client: `classify` turns a vendor's answer into our errors."""

    def __init__(
        self,
        vendor: str,
        *,
        timeout: float,
        reauth: Callable[[], None],
        headers: Callable[[], dict[str, str]],
        classify: Callable[[httpx.Response], tuple[str, str]],
        attempts: int = 8,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.vendor = vendor
        self.client = httpx.Client(timeout=timeout, transport=transport)
        self._reauth = reauth
        self._headers = headers
        self._classify = classify
        self.attempts = attempts
        self.backoff = backoff
        self.requests = 0

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """Send with retries; a 2xx (or 404 when `allow_404`) comes back, anything else raises."""
        allow_404 = kw.pop("allow_404", False)
        # A create is never repeated blindly: its answer may have been lost after it took
        # effect. The write-back queue retries it, looking for the object first.
        attempts = 1 if kw.pop("once", False) else self.attempts
        state = {"reauthed": False, "attempts": attempts}

        def once() -> httpx.Response:
            return self._once(method, url, allow_404, state, kw)

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            limit = attempts
            if getattr(exc, "outage", False):
                limit = min(limit, OUTAGE_ATTEMPTS)
            if getattr(exc, "auth", False):
                limit = max(limit, 2)
            return state.attempt_number >= limit

        retrying = Retrying(
            stop=stop,
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Retry)),
            reraise=True,
        )
        try:
            return retrying(once)
        except _Retry as exc:
            raise exc.error from None

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.wait is not None:
            return min(exc.wait, MAX_WAIT)
        base = self.backoff * 2 ** (state.attempt_number - 1)
        return min(base, MAX_WAIT) * (0.5 + random.random() / 2)

    def _once(
        self, method: str, url: str, allow_404: bool, state: dict, kw: dict
    ) -> httpx.Response:
        self.requests += 1
        try:
            response = self.client.request(method, url, headers=self._headers(), **kw)
        except httpx.TimeoutException:
            error = CrmError(f"{self.vendor} did not answer in time", retryable=True)
            raise _Retry(error, None, outage=True) from None
        except httpx.TransportError as exc:
            error = CrmError(f"{self.vendor} unreachable ({type(exc).__name__})", retryable=True)
            raise _Retry(error, None, outage=True) from None
        if response.is_success or (allow_404 and response.status_code == 404):
            return response
        kind, message = self._classify(response)
        where = f"{self.vendor} {method} {httpx.URL(url).path}: HTTP {response.status_code}"
        if kind == "auth":
            if not state["reauthed"]:
                state["reauthed"] = True
                log.info("%s refused the access token; refreshing it once", self.vendor)
                self._reauth()
                raise _Retry(CrmError(message, retryable=True), 0.0, auth=True)
            raise CrmAuthError(f"{where}: {message}")
        if kind in {"rate", "unavailable"}:
            wait = _retry_after(response)
            error = CrmError(
                f"{where}: {message}", retryable=True, http_status=response.status_code
            )
            log.info("%s (backing off)", error)
            raise _Retry(error, wait, outage=kind == "unavailable")
        if kind == "daily":
            raise CrmError(f"{where}: {message}", retryable=True, http_status=response.status_code)
        raise CrmError(f"{where}: {message}", retryable=False, http_status=response.status_code)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def json_body(response: httpx.Response) -> Any:
    """The JSON body, or a retryable error naming what came back instead (a proxy's HTML …)."""
    try:
        return response.json()
    except ValueError:
        raise CrmError(
            f"answer was not JSON ({response.headers.get('content-type', '?')})",
            retryable=True,
            http_status=response.status_code,
        ) from None
