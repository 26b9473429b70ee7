"""What every command line entry point shares, below both faces: the one exit-code table
(``exit_codes``) that ``moodwire …``, ``python -m batch_jobs.backfill`` and ``python -m
batch_jobs.retopic`` (the KubeRay job entry points) all exit by. Light: importing it loads no
torch, Ray or SQLAlchemy."""
