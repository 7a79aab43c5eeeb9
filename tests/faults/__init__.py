"""The fault suite (issue 12): a reusable driver that runs workers under a steady feed while it
kills workers, PostgreSQL and Kafka, then checks the invariants and measures progress.

- infra.py: a Kafka and a PostgreSQL of the suite's own (killing them breaks no other test).
- feed.py: the steady feed (documents, re-extractions, review actions) and its expected end state.
- workers.py: worker processes with static instance ids; kill, terminate, replace.
- progress.py: per-partition progress, who owned each partition when, and the waits.
- invariants.py: the end-state checks, one function each.
- driver.py: the fault plan, the run, and the report (table and JSON).
"""
