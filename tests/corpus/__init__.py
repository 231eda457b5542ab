"""Real error excerpts from public threads, labelled; see evaluate.py."""
