"""All SQL of optimerge: schema migrations and the plain reads and writes of the system of record
(no policy: the pipeline decides, storage writes)."""
