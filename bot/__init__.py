"""Cocreate: a Discord bot for communities that co-create products with their members."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cocreate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
