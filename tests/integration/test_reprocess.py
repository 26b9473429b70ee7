"""Re-processing stored mentions on PostgreSQL: ``db:all --model-changed`` and ``retopic``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from sqlalchemy import func, select

from storage.models import Mention, MentionTopic, TopicRollup
from storage.records import MentionRecord
from storage.service import AggregationService
from tests.integration.conftest import record, result
from tests.integration.test_storage_ingest import rollups_match_rows

ROOT = Path(__file__).resolve().parents[2]
TEXTS = {
    "dog": "Our dog finally learned to fetch the ball at the park",
    "cat": "The cat knocked every glass off the kitchen table again",
    "vote": "Polls open at 7am tomorrow, go vote in the election",
    "ballot": "Mail-in ballots are being counted slowly in three counties",
    "rent": "My rent went up 20% and wages did not",
}


def topics_of(engine) -> dict[str, set[str]]:
    with engine.connect() as c:
        rows = c.execute(select(Mention.external_id, MentionTopic.topic_key).join(MentionTopic)).all()
    found: dict[str, set[str]] = {key: set() for key in TEXTS}
    for external_id, topic in rows:
        found.setdefault(external_id, set()).add(topic)
    return found


def test_db_all_model_changed_reprocesses_only_older_versions(pg_url, capsys):
    import ray

    from batch_jobs.backfill import main
    from inference.settings import load_pipeline_settings
    from inference.versions import pipeline_model_version

    url, engine = pg_url
    current = pipeline_model_version(load_pipeline_settings(None))
    service = AggregationService(engine)
    old = [
        record(body, external_id=key, created_at="2026-11-20T09:00:00Z", version="old-model+old-embedder", seed=i)
        for i, (key, body) in enumerate(TEXTS.items())
    ]
    old[4] = record(TEXTS["rent"], external_id="rent", created_at="2026-11-20T09:00:00Z", version=current)
    service.ingest(old)
    assert main(["db:all", "--database-url", url]) == 2
    assert "db:all needs --model-changed" in capsys.readouterr().err
    try:
        assert main(["db:all", "--model-changed", "--database-url", url]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (summary["read"], summary["stored"], summary["failed"]) == (4, 4, 0)
        assert main(["db:all", "--model-changed", "--database-url", url]) == 0
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["read"] == 0
    finally:
        ray.shutdown()
    with engine.connect() as c:
        versions = dict(c.execute(select(Mention.external_id, Mention.model_version)).all())
        assert c.execute(select(func.count()).select_from(Mention)).scalar() == 5  # updated in place
    assert set(versions.values()) == {current}
    assert "elections" in topics_of(engine)["vote"]  # real topics replaced the fake 'economy' ones
    assert "economy" not in topics_of(engine)["dog"]
    rollups_match_rows(engine)


def test_retopic_moves_mentions_and_rollups_to_a_new_topic_file(pg_url, tmp_path, capsys):
    from batch_jobs.retopic import main
    from inference.pipeline import MentionPipeline
    from inference.settings import load_pipeline_settings

    url, engine = pg_url
    pipeline = MentionPipeline.from_settings(load_pipeline_settings(None))
    analyses = pipeline.analyse(list(TEXTS.values()))
    AggregationService(engine).ingest(
        [
            MentionRecord(
                text=body,
                external_id=key,
                created_at=f"2026-11-1{i}T10:00:00Z",
                result=analysis.result,
                embedding=analysis.embedding,
                model_version=pipeline.model_version,
            )
            for i, ((key, body), analysis) in enumerate(zip(TEXTS.items(), analyses, strict=True))
        ]
    )
    AggregationService(engine).ingest(  # embedded by another model: must keep its topics
        [record("stale embedding row", external_id="stale", version="x+other-embedder", result=result())]
    )
    assert "elections" in topics_of(engine)["vote"]

    topics = yaml.safe_load((ROOT / "configs" / "topics.yaml").read_text(encoding="utf-8"))
    topics["topics"] = [t for t in topics["topics"] if t["key"] != "elections"]
    topics["topics"].append(
        {
            "key": "pets",
            "description": "Pets and animals: dogs, cats, puppies, kittens, vets and pet food.",
            "examples": ["My puppy chewed my shoes", "Adopted a kitten from the shelter today"],
        }
    )
    topic_file = tmp_path / "topics.yaml"
    topic_file.write_text(yaml.safe_dump(topics), encoding="utf-8")

    assert main(["--topics", str(topic_file), "--database-url", url, "--range-size", "2"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["scanned"] == 6 and summary["stale_embeddings"] == 1
    assert {"pets", "elections"} <= set(summary["topics_touched"])
    found = topics_of(engine)
    assert "pets" in found["dog"] and "pets" in found["cat"]
    assert not any("elections" in t for t in found.values())
    with engine.connect() as c:
        assert c.execute(select(func.count()).where(TopicRollup.topic_key == "elections")).scalar() == 0
        pets = c.execute(select(func.sum(TopicRollup.count)).where(TopicRollup.topic_key == "pets")).scalar()
        stale = (
            c.execute(select(MentionTopic.topic_key).join(Mention).where(Mention.external_id == "stale"))
            .scalars()
            .all()
        )
    assert pets == len([k for k, t in found.items() if "pets" in t])
    assert stale == ["economy"]
    rollups_match_rows(engine)

    assert main(["--topics", str(topic_file), "--database-url", url]) == 0  # a second run changes nothing
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["changed"] == 0
    assert main(["--topics", str(tmp_path / "missing.yaml"), "--database-url", url]) == 2
    assert "missing.yaml" in capsys.readouterr().err
