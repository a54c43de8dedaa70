"""Scripted models and shared helpers for the tests (no tests here)."""
