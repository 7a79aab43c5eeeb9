"""The stream agents: the faust agent that batches and acks, the worker that hands its batches to
the pipeline, its Prometheus metrics, and the worker process."""
