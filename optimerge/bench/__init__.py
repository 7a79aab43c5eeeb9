"""`optimerge bench`: the pipeline against the database's ceiling and a naive baseline, in one run."""
