"""A Ray Data backfill into the real PostgreSQL: stored once, bad rows counted, re-run safe."""

import json

from sqlalchemy import func, select, text

from storage.models import Mention


def test_backfill_file_into_postgres_twice(tmp_path, pg_url, capsys):
    import ray

    from batch_jobs.backfill import main

    url, engine = pg_url
    rows = [
        {"text": f"Gas prices are killing us, day {i}", "external_id": f"h{i}", "created_at": "2026-11-01T10:00:00Z"}
        for i in range(30)
    ]
    rows += [
        {"text": "", "external_id": "empty"},
        {"text": "x" * 100_001, "external_id": "long"},
        {"text": "fine text", "external_id": "when", "created_at": "last tuesday"},
    ]
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    try:
        assert main([str(source), "--database-url", url]) == 0
        first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (first["read"], first["stored"], first["failed"], first["duplicates"]) == (33, 30, 3, 0)
        assert main([str(source), "--database-url", url]) == 0
        second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (second["stored"], second["duplicates"]) == (0, 30)
    finally:
        ray.shutdown()
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Mention)).scalar() == 33  # failed rows recorded once
        done = select(func.count(func.distinct(Mention.model_version))).where(Mention.processing_status == "done")
        assert c.execute(done).scalar() == 1
        failed = dict(
            c.execute(select(Mention.external_id, Mention.error).where(Mention.processing_status == "failed")).all()
        )
    assert failed["empty"] == "text is empty"
    assert "limit is 100000" in failed["long"]
    assert "'last tuesday' is not an ISO 8601 timestamp" in failed["when"]


def test_missing_source_stops_with_a_clear_message(capsys):
    from batch_jobs.backfill import main

    assert main(["/nonexistent/file.jsonl"]) == 2
    assert "SOURCE '/nonexistent/file.jsonl': no such file" in capsys.readouterr().err


def test_backfill_db_pending_completes_stored_mentions_in_place(pg_url, capsys):
    import ray

    from batch_jobs.backfill import main
    from storage.records import MentionRecord
    from storage.service import AggregationService
    from tests.integration.test_storage_ingest import rollups_match_rows

    url, engine = pg_url
    AggregationService(engine).import_raw(
        [
            MentionRecord(text="Polls open at 7am, go vote", external_id="p1"),
            MentionRecord(text="Gas prices are killing us", created_at="2026-11-20T09:00:00Z", source="tw"),
            MentionRecord(text="My insulin costs more than my rent"),  # no key at all: matched by id
        ]
    )
    try:
        assert main(["db:pending", "--database-url", url]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (summary["read"], summary["stored"], summary["failed"]) == (3, 3, 0)
        assert main(["db:pending", "--database-url", url]) == 0
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["read"] == 0
    finally:
        ray.shutdown()
    with engine.connect() as c:
        statuses = c.execute(select(Mention.processing_status, func.count()).group_by(Mention.processing_status)).all()
        assert [tuple(s) for s in statuses] == [("done", 3)]  # updated in place, nothing added
        topic = (
            c.execute(
                text(
                    "SELECT t.topic_key FROM mention_topics t JOIN mentions m ON m.id = t.mention_id "
                    "WHERE m.external_id = 'p1'"
                )
            )
            .scalars()
            .all()
        )
        assert "elections" in topic
    rollups_match_rows(engine)
