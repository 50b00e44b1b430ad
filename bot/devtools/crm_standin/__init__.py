"""Local stand-ins for HubSpot and Salesforce, built from the vendors' documented behaviour
(paging, the search cap, rate limits, token expiry, deleted and merged records, custom
properties) for tests, the demo and the benchmarks. Never imported by the product."""

from .hubspot import HubSpotStandin
from .salesforce import SalesforceStandin

__all__ = ["HubSpotStandin", "SalesforceStandin"]
