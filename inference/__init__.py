"""moodwire's Ray-free core: the models, their batching by tokens, topics, sentiment, language
and the post-processing every face shares, and the in-process pipeline of the CLI.

Both the online service (Ray Serve) and the bulk backfill (Ray Data) are thin adapters over
this package, so it never imports ``ray``, ``fastapi`` or ``sqlalchemy``; model development
(training, dev checks) lives in ``training``.
"""
