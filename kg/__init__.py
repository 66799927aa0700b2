"""outsourcing-kg core: the knowledge graph of outsourcing types, usable without HTTP.

The service (``service/``) and the ``kg`` command both call into this package; nothing here
imports Flask.
"""

__version__ = "0.1.0"
