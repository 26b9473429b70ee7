"""Data layer: schema, migrations, pooled engines and the aggregation service (Ray-free)."""
