"""HTTP API and Timeline (issue: Browser Timeline and HTTP API)."""
