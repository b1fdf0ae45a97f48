"""Switchyard backends package."""
