"""Switchyard gateway package."""
