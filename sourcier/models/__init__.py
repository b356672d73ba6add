"""Models provisioned offline from PyPI packages: the embedding model and the embedded LLM."""
