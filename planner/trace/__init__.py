"""Traces: requests with arrival times and lengths, read from files, ledgers and public datasets, or generated."""

from planner.trace.generate import TraceShape, generate_trace
from planner.trace.jsonl import parse_jsonl, write_jsonl
from planner.trace.read import TRACE_FORMATS, read_trace
from planner.trace.record import Trace, TraceError, TraceRecord

__all__ = ["Trace", "TraceError", "TraceRecord", "TraceShape", "TRACE_FORMATS", "generate_trace", "parse_jsonl",
           "read_trace", "write_jsonl"]
