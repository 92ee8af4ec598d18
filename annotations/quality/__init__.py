"""Annotation quality: label checks that need no model (annotations/quality/checks.py)."""
