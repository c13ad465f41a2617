"""The generation chain: plan → generate → render → verify → write shard → manifest."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chartsynth")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
