"""All Kafka clients of optimerge: the topic registry (names, keys, models, codecs), producer,
consumers, admin, the faust app factory."""
