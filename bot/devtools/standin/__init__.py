"""Local stand-in for Slack (Web API + signed inbound requests) used by tests and the demo."""

from .driver import DriverResponse, SlackDriver
from .recorder import Call
from .render import render_blocks, render_view
from .server import SlackStandin

__all__ = ["Call", "DriverResponse", "SlackDriver", "SlackStandin", "render_blocks", "render_view"]
