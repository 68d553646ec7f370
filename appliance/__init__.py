"""The appliance service: composition root, config, HTTP API, CLI and domain services."""

from appliance import offline as _offline  # noqa: F401  (telemetry off before any other import)

__version__ = "0.1.0"
