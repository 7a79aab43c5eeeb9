"""Kafka plumbing: topic names, producer, admin, the faust app factory."""
