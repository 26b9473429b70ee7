"""The online face on Ray Serve: the Gateway (routes, middleware, the error table, the page),
the model host and its batcher, and the deployments; thin adapters over ``inference`` and
``storage``. It imports nothing from ``batch_jobs``."""
