"""The `chartsynth` command line (chartsynth.cli): the one face of the data pipeline (pipeline/), the Prefect flows
(flows/) and the model package (model/)."""
