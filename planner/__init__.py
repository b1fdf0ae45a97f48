"""Switchyard planner package."""
