"""The lab's pure model: topology, failures, policies and metrics.

No Django or Celery imports live here. Time comes from an injected clock and randomness from an injected
`random.Random`, so every rule is unit-tested with exact values.
"""
