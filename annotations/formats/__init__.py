"""Dataset formats: readers and writers on plain records, registered by name. No database access."""

from .registry import FORMATS, get_format

__all__ = ["FORMATS", "get_format"]
