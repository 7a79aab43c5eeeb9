"""optimerge: the operator command, settings and local infrastructure."""
