"""Why a submission, or a request about an added type, is refused: one class per reason, in domain terms.

Every way in (the extensions directory, ``kg add-type``, ``POST /api/types``) meets the same refusals,
and each outer layer tells them in its own terms: ``service/api_extend.py`` maps each class to an HTTP
status, ``cli/extend.py`` to an exit code. So nothing here knows either: no statuses, no routes; a
message says what was wrong and what to do about it in the words of the domain ("replace it",
"remove it first").

- ``SubmissionError``: the submission itself is refused, whatever the store holds:
  ``TooLarge``, ``UnsupportedFormat``, ``Malformed`` (cannot be read: encoding, syntax, nesting) and
  ``Invalid`` (read, but not an acceptable type: the form, the shapes, the checks);
- the state of the graph refuses it: ``DuplicateType``, ``TypeInUse``, ``ProtectedType``, ``UnknownType``.
"""

from __future__ import annotations

from typing import Any

from rdflib import Graph


class ExtensionError(Exception):
    """A submission, or a request about an added type, that cannot be honoured.

    ``message`` says what was wrong; ``line`` where, for a syntax error; ``violations`` every problem
    found (focus, path, message), for a rejected type; ``report`` the SHACL report graph of the checks;
    ``slug`` the added type concerned when the caller can act on it (replace or remove it).
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        violations: list[dict[str, Any]] | None = None,
        report: Graph | None = None,
        slug: str | None = None,
    ):
        super().__init__(message)
        self.message, self.line, self.report, self.slug = message, line, report, slug
        self.violations: list[dict[str, Any]] = violations or []

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message

    @property
    def detail(self) -> str:
        """The message as a person reads it, with the line when there is one."""
        return str(self)


class SubmissionError(ExtensionError):
    """The submission itself is refused, whatever the graph holds."""


class TooLarge(SubmissionError):
    """More bytes or more triples than a submission may have."""


class UnsupportedFormat(SubmissionError):
    """A format submissions cannot come in (RDF/XML, for one: it would expand entities)."""


class Malformed(SubmissionError):
    """The submission cannot be read: not UTF-8, a syntax error (with its line), nested too deeply."""


class Invalid(SubmissionError):
    """The submission reads, but does not describe an acceptable type: its form, the shapes or the
    checks say why, one violation per problem (the message alone when there is one problem)."""

    def __init__(self, message: str, **kwargs: Any):
        super().__init__(message, **kwargs)
        if not self.violations:
            self.violations = [{"message": message}]


class DuplicateType(ExtensionError):
    """The type, its IRI, its acronym or its name is taken (by the graph, or by a submission that
    landed at the same moment)."""


class TypeInUse(ExtensionError):
    """Other things still refer to the type, or to nodes a new version of it would drop."""


class ProtectedType(ExtensionError):
    """A type that comes from the source: it is part of the shipped graph and stays as it is."""


class UnknownType(ExtensionError):
    """No added type by that slug (nothing to replace or remove)."""


__all__ = [
    "DuplicateType",
    "ExtensionError",
    "Invalid",
    "Malformed",
    "ProtectedType",
    "SubmissionError",
    "TooLarge",
    "TypeInUse",
    "UnknownType",
    "UnsupportedFormat",
]
