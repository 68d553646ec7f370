"""The appliance service: composition root, config, HTTP API, CLI and domain services."""

from appliance.infra import offline  # noqa: F401  (telemetry off before any other import)

__version__ = "0.1.0"
