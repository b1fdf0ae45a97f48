"""The usage ledger: one record per upstream attempt, buffered in memory, made durable in batches."""

from gateway.ledger.record import COLUMNS, RecordId, UsageRecord, row_from_outcome
from gateway.ledger.sqlite_sink import LedgerFileError, SqliteLedger, UnknownRecordError, UsageFilter, UsagePage
from gateway.ledger.stream import LedgerStream
from gateway.ledger.writer import LedgerWriter

__all__ = ["COLUMNS", "LedgerFileError", "LedgerStream", "LedgerWriter", "RecordId", "SqliteLedger", "UnknownRecordError",
           "UsageFilter", "UsagePage", "UsageRecord", "row_from_outcome"]
