"""Executable verifiers: checks of a response that run code or compare answers instead of
asking a model's opinion (docs/verifiers.md)."""
