"""Extending the graph with outsourcing types the source does not cover: parsing a submission,
checking it, and writing it atomically at the store."""
