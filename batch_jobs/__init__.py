"""Bulk backfill on Ray Data: thin UDF adapters over the shared ``inference`` core."""
