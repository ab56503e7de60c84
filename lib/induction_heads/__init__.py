"""Induction Heads, reproduced: the helper library of the book."""

__version__ = "0.1.0"
