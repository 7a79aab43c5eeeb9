"""faust-streaming agents: thin loops that batch, call pure functions and storage, then ack."""
