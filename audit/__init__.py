"""Evidence: event model, hash-chained logs, signed checkpoints, recordings, verification.

Builds on ``protocol``. Used by the broker (the company's copy) and by the agent
(the client's copy); ``clearpane audit verify`` checks one against the other.
"""

__all__: list[str] = []
