"""Extending the graph with outsourcing types the source does not cover: reading a submission,
checking it, and writing it as the type's own named graph in one store transaction.

The public surface, by module (nothing is re-exported here, so that importing one part loads no other:
``kg.graph`` loads the extensions directory at open, and the dry run uses the comparison, which uses
``kg.graph``):

- ``write``: ``add``, ``remove`` (through the store's guarded write);
- ``preview``: ``dry_run`` (what ``add`` would write, and the nearest existing type);
- ``directory``: ``load_extension_directory`` (``ontology/extensions/`` at open);
- ``errors``: why a submission or a request is refused, one class per reason;
- ``submission``: ``parse`` and its limits (``MAX_BYTES``); ``intake.Outcome``: what was (or would be) done.

The rest is how: ``intake`` (parse → check → the graph to write), ``form`` and ``marking`` (the simple
form), ``checks``, ``vocabulary``, ``context`` (what the store says about a submission), ``shacl`` and
``report``, ``provenance``.
"""
