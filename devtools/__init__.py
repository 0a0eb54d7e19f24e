"""Developer tooling: run the whole platform locally, a mail sink, demo data. Not deployed."""
