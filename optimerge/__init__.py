"""optimerge: the operator command (cli/), the local Kafka/PostgreSQL supervisor (infra/), the demo
feed and the bench: the roof, which nothing below imports."""
