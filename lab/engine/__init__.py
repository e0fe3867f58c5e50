"""The lab's runtime: one asyncio loop per worker process interprets any topology document.

Simulated waits (service time, a caller blocked on a sync call, a retry's backoff) are coroutines sleeping on
that loop, so waiting costs memory, not threads; asynchronous hops are real Celery task messages through Redis.
"""
