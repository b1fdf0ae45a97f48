"""Switchyard policies package."""
