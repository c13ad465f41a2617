"""Prefect flows and deployments calling pipeline.run (later issues)."""
