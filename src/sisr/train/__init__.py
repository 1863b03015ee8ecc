"""Training loops: one per method (supervised, zero-shot)."""
