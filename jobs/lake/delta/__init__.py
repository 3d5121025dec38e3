"""Delta Lake through delta-rs: a Spark write data source and the pieces it is made of."""

from jobs.lake.delta.commit import CommitOutcome, DeltaWriteError, WriteRequest, commit_write
from jobs.lake.delta.predicate import PredicateError, parse_predicate
from jobs.lake.delta.source import FORMAT_NAME, DeltaRsDataSource

__all__ = [
    "FORMAT_NAME",
    "CommitOutcome",
    "DeltaRsDataSource",
    "DeltaWriteError",
    "PredicateError",
    "WriteRequest",
    "commit_write",
    "parse_predicate",
]
