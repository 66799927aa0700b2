"""The shipped ontology: reading ``ontology/`` into the store (``loader``) through the SHACL gate
every outsourcing type passes (``validate``)."""
