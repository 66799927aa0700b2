"""Linked data: the description of a resource (``description``) and the page built from it (``page``),
the JSON-LD context, VoID, the Service Description, the ontology page, and the rewriting of
canonical IRIs to a deployment's addresses (``rewrite``)."""
