"""moodwire's Ray-free core: models, batching, topics, sentiment and the classify pipeline.

Both the online service (Ray Serve) and the bulk backfill (Ray Data) are thin adapters over
this package, so it must never import ``ray`` or ``fastapi``.
"""
