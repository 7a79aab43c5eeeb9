"""`optimerge bench`: the pipeline against the database ceiling and a naive baseline."""
