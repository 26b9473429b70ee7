"""``moodwire classify``: output lines, exit codes and one-line errors (the fake models chosen
in a settings file, loaded in-process through the real loaders)."""

import json
from types import SimpleNamespace

import pytest

from inference.pipeline import MentionPipeline
from moodwire.cli import main
from tests.unit.fakes import fake_model_config


@pytest.fixture()
def fake_cli(monkeypatch, tmp_path) -> SimpleNamespace:
    """A settings file choosing the fake models (``config``), and each pipeline the command
    builds (``built``: their topic files), built by the real ``from_settings``."""
    config = fake_model_config(tmp_path)
    built = []
    real = MentionPipeline.from_settings.__func__

    def recording_from_settings(cls, settings, *, topics_file=None):
        built.append(topics_file)
        return real(cls, settings, topics_file=topics_file)

    monkeypatch.setattr(MentionPipeline, "from_settings", classmethod(recording_from_settings))
    return SimpleNamespace(config=config, built=built)


def run_cli(capsys, cli: SimpleNamespace, *argv):
    """``moodwire classify --config <the fake models' settings> *argv`` (a later ``--config`` wins)."""
    code = main(["classify", "--config", str(cli.config), *argv])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_texts_from_arguments(fake_cli, capsys):
    code, lines, err = run_cli(capsys, fake_cli, "raise taxes now", "the hospital is full")
    assert code == 0
    assert err.count("moodwire: warning: fake models in use (emotion, embedding)") == 1
    assert [line["text"] for line in lines] == ["raise taxes now", "the hospital is full"]
    assert "external_id" not in lines[0]
    assert set(lines[0]) == {"text", "emotion", "sentiment", "topics", "language", "language_supported"}
    assert [[t["key"] for t in line["topics"]] for line in lines] == [["economy"], ["health"]]


def test_jsonl_file_keeps_order_ids_and_reports_empty_texts(fake_cli, capsys, tmp_path):
    path = tmp_path / "in.jsonl"
    rows = [{"text": "raise taxes now", "external_id": "a"}, {"text": "", "external_id": "b"}, {"text": "hospital"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    code, lines, err = run_cli(capsys, fake_cli, "--input", str(path))
    assert code == 0
    assert [line.get("external_id") for line in lines] == ["a", "b", None]
    assert lines[1]["error"] == "text is empty" and "emotion" not in lines[1]
    assert "emotion" in lines[0] and "emotion" in lines[2]
    assert "classified 2 of 3 texts (1 with errors)" in err


def test_txt_and_csv_files(fake_cli, capsys, tmp_path):
    txt = tmp_path / "in.txt"
    txt.write_text("one\ntwo\n", encoding="utf-8")
    csv = tmp_path / "in.csv"
    csv.write_text("external_id,text\n9,three\n", encoding="utf-8")
    assert run_cli(capsys, fake_cli, "--input", str(txt))[1][1]["text"] == "two"
    assert run_cli(capsys, fake_cli, "--input", str(csv))[1][0]["external_id"] == "9"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.jsonl", None, "missing.jsonl: file not found"),
        ("in.xml", b"<a/>", "unsupported extension '.xml'"),
        ("in.txt", b"ok\n\xc3\x28\n", "in.txt:2: invalid UTF-8"),
        ("in.jsonl", b'"just a string"\n', "in.jsonl:1: expected a JSON object"),
        ("in.jsonl", b'{"external_id": "1"}\n', "in.jsonl:1: object has no 'text' field"),
    ],
)
def test_bad_input_files_exit_2_with_one_line(fake_cli, capsys, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, lines, err = run_cli(capsys, fake_cli, "--input", str(path))
    assert code == 2 and lines == []
    assert err.strip().count("\n") == 0 and message in err and "Traceback" not in err
    assert fake_cli.built == []  # nothing was loaded


def test_bad_topics_file_exits_2_naming_the_key(fake_cli, capsys, tmp_path):
    topics = tmp_path / "topics.yaml"
    topics.write_text("topics:\n  - key: economy\n    descripton: typo\n", encoding="utf-8")
    code, _, err = run_cli(capsys, fake_cli, "hello", "--topics", str(topics))
    assert code == 2
    assert str(topics) in err and "'descripton'" in err and "'description' is required" in err
    code, _, err = run_cli(capsys, fake_cli, "hello", "--topics", str(tmp_path / "absent.yaml"))
    assert code == 2 and "absent.yaml: file not found" in err


def test_bad_settings_file_exits_2(fake_cli, capsys, tmp_path):
    config = tmp_path / "moodwire.yaml"
    config.write_text("emotion:\n  forward_batch_size: 0\n", encoding="utf-8")
    code, _, err = run_cli(capsys, fake_cli, "hello", "--config", str(config))
    assert code == 2 and "'emotion.forward_batch_size'" in err
    assert fake_cli.built == []  # nothing was loaded


def test_no_input_at_all(fake_cli, capsys):
    code, _, err = run_cli(capsys, fake_cli)
    assert code == 2 and "TEXT" in err
