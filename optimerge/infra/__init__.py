"""Local Kafka (KRaft, jars from Maven Central) and PostgreSQL processes started by the project."""
