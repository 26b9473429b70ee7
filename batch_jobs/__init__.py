"""The bulk face on Ray Data: the backfill and retopic jobs (the KubeRay job entry points) and
their UDFs, thin adapters over ``inference`` and ``storage``. It imports nothing from
``serve_app``."""
