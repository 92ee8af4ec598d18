"""Dataset formats: readers and writers on plain records, registered by name. No database access."""

from annotations.datasets.formats.registry import FORMATS, get_format

__all__ = ["FORMATS", "get_format"]
