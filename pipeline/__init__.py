"""The pipeline layer: framework-free use cases that write (merge, review, record a failure, the
legacy import) and the batch processor that runs them for the stream agents."""
