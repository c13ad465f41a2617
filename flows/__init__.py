"""Prefect flows (datasets) and their deployments (prefect.yaml at the repository root); they run
pipeline.run.run_job, as the CLI does, with Prefect tasks as the runner."""
