"""A demo and benchmark feed of ExtractionResults built from real Synthea patients (the sample in
optimerge/demo/data/).

The feed is pure (no Kafka, no database): `load_sample()` reads the sample; `build_documents()`
gives each result with the flag reasons it was built to trigger, `build_feed()` just the results.
`optimerge.demo.publish` sends it."""

from .feed import big_document, build_documents, build_feed
from .jsonl import iter_jsonl, write_jsonl
from .mix import DemoDocument, FeedMix, FlagSummary, flag_summary
from .sample import SampleData, load_sample, with_twins

__all__ = [
    "DemoDocument",
    "FeedMix",
    "FlagSummary",
    "SampleData",
    "big_document",
    "build_documents",
    "build_feed",
    "flag_summary",
    "iter_jsonl",
    "load_sample",
    "with_twins",
    "write_jsonl",
]
