"""The language rule in storage, on SQLite and on the real PostgreSQL: migration 0002, ingest,
listings, delete, re-processing, retopic and ``moodwire db rebuild-rollups``."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, select, text

from inference.language import LanguagePolicy
from moodwire.cli import main
from storage import topic_rescore
from storage.answers import MentionItem
from storage.errors import InvalidLanguageError, SchemaNotReadyError
from storage.factory import Storage
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import Mention, MentionTopic, TopicRollup
from storage.query_types import MentionsQuery
from storage.settings import StorageSettings
from tests.integration.conftest import NOW, make_pg_engine, record, result, schema_url
from tests.integration.test_storage_ingest import rollups_match_rows, snapshot

HOUR = "2026-11-20T09:15:00Z"
EN_ES = LanguagePolicy(supported=frozenset({"en", "es"}))
EVERY_LANGUAGE = LanguagePolicy(rollups="all")


def in_language(language: str, *, external_id: str, version: str = "m1", topics=None, **kwargs):
    """A classified record whose result says ``language``."""
    res = dataclasses.replace(result(topics=topics), language=language, language_supported=language in ("en", "und"))
    return record(
        f"text of {external_id}", external_id=external_id, created_at=HOUR, version=version, result=res, **kwargs
    )


def topic_count(engine, topic: str) -> int:
    with engine.connect() as c:
        return int(
            c.execute(
                select(func.coalesce(func.sum(TopicRollup.count), 0)).where(TopicRollup.topic_key == topic)
            ).scalar()
        )


def storage_with(engine, policy: LanguagePolicy) -> Storage:
    return Storage.over(engine, settings=StorageSettings(cache_ttl_s=0), clock=lambda: NOW, language_policy=policy)


def mentions(storage: Storage, topic: str, **kwargs) -> list[MentionItem]:
    """The items of ``GET /v1/mentions`` with these query parameters."""
    return storage.reads.mentions.mentions(MentionsQuery(topic=topic, **kwargs)).items


# -- migration 0002 --------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request, tmp_path):
    """``(engine, url)`` of a database at revision 0001 holding one classified, counted mention."""
    from storage.engine import create_database_engine

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/old.db"
        engine = create_database_engine(url)
        cleanup = None
    else:
        admin = request.getfixturevalue("pg_admin")
        engine, schema = make_pg_engine(admin)
        url = schema_url(schema)

        def cleanup():
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

    upgrade(engine, "0001")
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO mentions (id, external_id, content_hash, text, created_at, ingested_at, processing_status,"
                " sentiment_score, sentiment_label, emotion_label, emotion_scores, model_version) VALUES (1, 'old-1',"
                " 'h', 'Gas prices again', '2026-11-20 09:15:00', '2026-11-20 09:16:00', 'done', -0.5, 'negative',"
                " 'anger', '{\"anger\": 0.9}', 'emo+emb')"
            )
        )
        c.execute(text("INSERT INTO mention_topics VALUES (1, 'economy', 0.5, '2026-11-20 09:15:00')"))
        c.execute(text("INSERT INTO topic_rollups VALUES ('economy', '2026-11-20 09:00:00', 1, -0.5, 0.25, 0, 0, 1)"))
        c.execute(text("INSERT INTO topic_emotion_rollups VALUES ('economy', '2026-11-20 09:00:00', 'anger', 1)"))
    yield engine, url
    engine.dispose()
    if cleanup is not None:
        cleanup()


def test_migration_0002_keeps_existing_mentions_counted_and_round_trips(old_database, capsys):
    engine, url = old_database
    assert head_revision() == "0005" and current_revision(engine) == "0001"
    if url.startswith("postgresql"):  # a server database is never migrated behind the user's back
        from storage.factory import ready_engine

        with pytest.raises(SchemaNotReadyError, match=r"0001.*0005.*moodwire db upgrade"):
            ready_engine(url)
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert json.loads(capsys.readouterr().out)["revision"] == "0005"
    with engine.connect() as c:
        row = c.execute(select(Mention.language, Mention.sentiment_scores, Mention.in_rollups)).one()
    assert tuple(row) == (None, None, True)
    storage = storage_with(engine, LanguagePolicy())
    (item,) = mentions(storage, "economy")
    assert (item.language, item.language_supported) == ("und", True)
    assert "scores" not in item.model_dump(mode="json")["sentiment"]
    assert [m.external_id for m in mentions(storage, "economy", language="und")] == ["old-1"]
    rollups_match_rows(engine)
    assert storage.writes.delete(["old-1"]) == ["old-1"]  # NULL language counted as supported: it comes out
    assert topic_count(engine, "economy") == 0

    from alembic import command

    from storage.migrate import _config

    with engine.begin() as connection:  # the migration's own downgrade, then up again
        config = _config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert current_revision(engine) == "0001"
    with engine.connect() as c:
        assert "language" not in list(c.execute(text("SELECT * FROM mentions")).keys())
    assert upgrade(engine) == "0005"


# -- ingest, listings, delete, re-processing -------------------------------------------------------
def test_unsupported_languages_keep_labels_but_stay_out_of_rollups_and_listings(engine):
    storage = storage_with(engine, LanguagePolicy())
    service = storage.writes
    scored = dataclasses.replace(
        result(topics={"economy": 0.6}),
        sentiment=dataclasses.replace(result().sentiment, scores={"negative": 0.8, "neutral": 0.15, "positive": 0.05}),
        language="en",
    )
    service.ingest(
        [
            record("en text", external_id="en-1", created_at=HOUR, result=scored),
            in_language("es", external_id="es-1"),
            in_language("de", external_id="de-1", topics={"economy": 0.5, "healthcare": 0.4}),
            in_language("und", external_id="und-1"),
        ]
    )
    with engine.connect() as c:
        stored = dict(c.execute(select(Mention.external_id, Mention.language)).all())
        topics = c.execute(select(func.count()).select_from(MentionTopic)).scalar()
    assert stored == {"en-1": "en", "es-1": "es", "de-1": "de", "und-1": "und"}
    assert topics == 5  # every mention keeps its topics
    assert topic_count(engine, "economy") == 2 and topic_count(engine, "healthcare") == 0
    rollups_match_rows(engine)

    def listed(**kwargs) -> list[str]:
        return sorted(m.external_id for m in mentions(storage, "economy", **kwargs))

    assert listed() == ["en-1", "und-1"]
    assert listed(language="es") == ["es-1"] and listed(language="und") == ["und-1"]
    assert listed(include_unsupported=True) == ["de-1", "en-1", "es-1", "und-1"]
    items = {m.external_id: m for m in mentions(storage, "economy", include_unsupported=True)}
    assert (items["de-1"].language, items["de-1"].language_supported) == ("de", False)
    assert (items["en-1"].language, items["en-1"].language_supported) == ("en", True)
    assert items["en-1"].sentiment.scores == {"negative": 0.8, "neutral": 0.15, "positive": 0.05}
    assert "scores" not in items["es-1"].model_dump(mode="json")["sentiment"]
    with pytest.raises(InvalidLanguageError, match="ISO 639-1"):
        mentions(storage, "economy", language="Spanish")

    assert sorted(service.delete(["es-1", "de-1"])) == ["de-1", "es-1"]
    assert topic_count(engine, "economy") == 2  # they were never counted: nothing comes out
    service.delete(["en-1"])
    assert topic_count(engine, "economy") == 1
    rollups_match_rows(engine)


def test_reprocessing_moves_the_contribution_when_the_language_changes(engine):
    service = storage_with(engine, LanguagePolicy()).writes
    service.ingest([in_language("es", external_id="x", version="m1")])
    assert topic_count(engine, "economy") == 0
    before = snapshot(engine)
    assert service.ingest([in_language("es", external_id="x", version="m1")]).duplicates == 1  # replay
    assert snapshot(engine) == before
    service.ingest([in_language("en", external_id="x", version="m2")])  # re-detected as English
    assert topic_count(engine, "economy") == 1
    rollups_match_rows(engine)
    service.ingest([in_language("en", external_id="x", version="m3")])  # re-processed, still English
    assert topic_count(engine, "economy") == 1
    with engine.connect() as c:
        mention_id = c.execute(select(Mention.id)).scalar_one()
    by_id = in_language("de", external_id=None, version="m4", mention_id=mention_id)  # the backfill's db:all path
    assert service.ingest([by_id]).updated == 1
    assert topic_count(engine, "economy") == 0
    rollups_match_rows(engine)
    service.delete(["x"])
    assert topic_count(engine, "economy") == 0
    rollups_match_rows(engine)


def test_a_settings_change_never_makes_a_delete_subtract_what_was_not_added(engine):
    storage_with(engine, LanguagePolicy()).writes.ingest([in_language("es", external_id="es-1")])
    later = storage_with(engine, EN_ES).writes  # Spanish supported now, rollups not rebuilt yet
    later.ingest([in_language("es", external_id="es-2")])
    assert topic_count(engine, "economy") == 1
    later.delete(["es-1"])  # stored as not counted: nothing comes out
    assert topic_count(engine, "economy") == 1
    rollups_match_rows(engine, EN_ES)


def test_spanish_and_german_tweets_from_the_pipeline_come_back_unsupported_and_uncounted(engine, tmp_path):
    from inference.pipeline import MentionPipeline
    from storage.records import MentionRecord
    from tests.unit.fakes import fake_models, fake_settings

    emotion, embedder = fake_models()
    pipeline = MentionPipeline.from_models(fake_settings(tmp_path), emotion=emotion, embedder=embedder)
    texts = [
        "The hospital sent us home after six hours without a doctor",
        "El hospital del barrio lleva dos semanas sin médicos, una vergüenza",
        "Seit drei Stunden warten wir im Hospital, kein Arzt weit und breit",
    ]
    analyses = pipeline.analyse(texts)
    assert [(a.result.language, a.result.language_supported) for a in analyses] == [
        ("en", True),
        ("es", False),
        ("de", False),
    ]
    assert [[t.key for t in a.result.topics] for a in analyses] == [["health"]] * 3
    storage_with(engine, LanguagePolicy()).writes.ingest(
        [
            MentionRecord(
                text=t,
                external_id=f"h{i}",
                created_at=HOUR,
                result=a.result,
                embedding=a.embedding,
                model_version=pipeline.model_version,
            )
            for i, (t, a) in enumerate(zip(texts, analyses, strict=True))
        ]
    )
    assert topic_count(engine, "health") == 1
    rollups_match_rows(engine)


# -- retopic and rebuild ---------------------------------------------------------------------------
def test_retopic_gives_uncounted_mentions_new_topics_without_moving_rollups(engine):
    version = "emo+emb+lang:py3langid-0.4.0:r1"
    service = storage_with(engine, LanguagePolicy()).writes
    service.ingest(
        [
            in_language("en", external_id="en-1", version=version, seed=1),
            in_language("es", external_id="es-1", version=version, seed=2),
        ]
    )
    with engine.begin() as connection:
        report = topic_rescore.rescore_range(
            connection,
            lo=0,
            hi=10**9,
            select_topics=lambda vectors: [[("pets", 0.9)] for _ in vectors],
            embedding_version="emb",
        )
        topic_rescore.drop_empty_rollups(connection, topics=sorted(report.touched_topics))
    assert (report.scanned, report.changed, report.stale_embeddings) == (2, 2, 0)
    with engine.connect() as c:
        topics = sorted(c.execute(select(MentionTopic.topic_key)).scalars())
    assert topics == ["pets", "pets"]
    assert topic_count(engine, "pets") == 1 and topic_count(engine, "economy") == 0
    rollups_match_rows(engine)


def test_rebuild_rollups_applies_the_current_settings(engine):
    storage_with(engine, LanguagePolicy()).writes.ingest(
        [
            in_language("en", external_id="en-1"),
            in_language("es", external_id="es-1", topics={"economy": 0.5, "housing": 0.4}),
            in_language("de", external_id="de-1"),
            in_language("und", external_id="und-1"),
        ]
    )
    with engine.begin() as c:  # a mention stored before detection
        c.execute(text("UPDATE mentions SET language = NULL WHERE external_id = 'und-1'"))
    assert topic_count(engine, "economy") == 2
    for policy, economy, housing, left_out in (
        (EN_ES, 3, 1, 1),
        (EVERY_LANGUAGE, 4, 1, 0),
        (LanguagePolicy(), 2, 0, 2),
    ):
        summary = storage_with(engine, policy).writes.rebuild_rollups()
        assert (summary["mentions_counted"], summary["mentions_left_out"]) == (4 - left_out, left_out)
        assert (topic_count(engine, "economy"), topic_count(engine, "housing")) == (economy, housing)
        rollups_match_rows(engine, policy)
    before = snapshot(engine)
    storage_with(engine, LanguagePolicy()).writes.rebuild_rollups()
    assert snapshot(engine) == before  # a second rebuild changes nothing


# -- the command line --------------------------------------------------------------------------------
def test_rebuild_rollups_and_mentions_filters_on_the_command_line(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/cli.db"
    config = tmp_path / "moodwire.yaml"
    config.write_text("supported_languages: [en, es]\n", encoding="utf-8")
    from storage.factory import open_service

    open_service(url).ingest([in_language("en", external_id="en-1"), in_language("es", external_id="es-1")])
    assert main(["mentions", "--topic", "economy", "--database-url", url]) == 0
    assert [m["external_id"] for m in json.loads(capsys.readouterr().out)["items"]] == ["en-1"]

    assert main(["db", "rebuild-rollups", "--config", str(config), "--database-url", url]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert len(captured.out.strip().splitlines()) == 1 and "rebuild-rollups" in captured.err  # the progress bar
    assert summary == {
        "mentions_counted": 2,
        "mentions_left_out": 0,
        "topics": 1,
        "rollup_rows": 1,
        "supported_languages": ["en", "es"],
        "rollup_languages": "supported",
    }
    assert (
        main(["mentions", "--topic", "economy", "--language", "es", "--config", str(config), "--database-url", url])
        == 0
    )
    (item,) = json.loads(capsys.readouterr().out)["items"]
    assert (item["external_id"], item["language"], item["language_supported"]) == ("es-1", "es", True)
    assert main(["mentions", "--topic", "economy", "--include-unsupported", "--database-url", url]) == 0
    assert len(json.loads(capsys.readouterr().out)["items"]) == 2

    assert main(["mentions", "--topic", "economy", "--language", "Spanish", "--database-url", url]) == 2
    assert capsys.readouterr().err.strip() == (
        "moodwire mentions: language must be a lower-case ISO 639-1 code such as 'en', or 'und', got 'Spanish'"
    )
    config.write_text("supported_languages: [EN]\n", encoding="utf-8")
    assert main(["db", "rebuild-rollups", "--config", str(config), "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("moodwire db: ") and "'supported_languages'" in err and "Traceback" not in err
    unreachable = "postgresql+psycopg2://nobody@127.0.0.1:1/nowhere"
    assert main(["db", "rebuild-rollups", "--database-url", unreachable]) == 1
    assert "Traceback" not in capsys.readouterr().err
