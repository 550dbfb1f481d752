"""citeqa: embeddings."""
