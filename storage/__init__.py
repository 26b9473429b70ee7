"""The database, Ray-free: the schema (``models``, Alembic ``migrations``), pooled engines
(``engine``, ``factory``), record rules (``records``), the write service (``service``: ingest,
failures, deletes, retention, rollups in step), the readers by area (``reads``: aggregates and
trends, mentions and export, spikes, the page's answers, alerts) with their typed queries
(``query_types``) and answers (``answers``) and the cache they share (``read_cache``), the
alert tables and the one alert call (``alert_store``, ``alert_recorder``), the result codec
(``result_columns``) and the domain errors (``errors``).

The spike detector itself is the top-level package ``spikes``; alert delivery is
``alerting``. Nothing here imports torch, Ray or HTTP code.
"""
