"""Shared fixtures of the verification tests."""
