"""The fault suite (issue 12): a reusable driver that runs workers under a steady feed while it
kills workers, PostgreSQL and Kafka, then checks the invariants and measures progress.

- infra.py: a Kafka and a PostgreSQL of the suite's own (killing them breaks no other test).
- feed.py: the steady feed (documents, re-extractions, review actions) and its expected end state.
- workers.py: worker processes with static instance ids; kill, terminate, replace.
- progress.py: per-partition progress, who owned each partition when, and the waits.
- invariants.py: the end-state checks, one function each.
- driver.py: the fault plan, the run, and the report (table and JSON).

On a cluster (issue 18; tests/integration/test_cluster_faults.py):
- cluster.py: three brokers and a Patroni pair of the suite's own (through optimerge/infra).
- netns.py: the network namespace and veth pair that cut one worker off.
- cluster_driver.py: the cluster plan (worker kills, the leading broker, the primary with
  commits in doubt, a zombie, a network cut), a checkpoint after each fault, the table.
- in_doubt.py: a COMMIT left in doubt on purpose; sessions.py: a worker's backend in
  pg_stat_activity (strike it inside a transaction); processes.py: a process's children.
- outputs.py: the output topics read back (deduplicable by id, every document announced);
  tally.py: a checkpoint's figures; health.py: `optimerge status --json` during a fault;
  app.py: the reviewer app as a process.
"""
