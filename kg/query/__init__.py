"""The query machinery: from SPARQL text to bytes, safely.

``sparql`` is the entry for user SPARQL, ``trusted`` for the core's own queries; both pass the
``precheck``, run under the request's ``deadline`` in an evaluator (``pool`` → ``evaluator`` →
``evaluation``), and answers are kept in ``cache`` until the graph changes."""
