"""Process-wide safety: the operating-system confinement of evaluators (``confine``) and the audit
hook that refuses any outbound fetch (``guard``)."""
