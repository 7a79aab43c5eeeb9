"""All SQL of optimerge: schema migrations and the reads and writes of the system of record."""
