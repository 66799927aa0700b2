"""The HTTP face of the knowledge graph: translates requests into calls on ``kg`` and back."""
