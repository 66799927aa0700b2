"""What people ask of the graph without writing SPARQL: lookups, the type-vs-type comparison,
named queries, search and closest-term suggestions."""
