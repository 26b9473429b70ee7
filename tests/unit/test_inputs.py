import pytest

from moodwire.inputs import InputFileError, read_mentions


def test_txt_one_text_per_line(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("first\n\nthird\r\n", encoding="utf-8")
    assert [(m.text, m.line) for m in read_mentions(path)] == [("first", 1), ("", 2), ("third", 3)]


def test_jsonl_fields_and_blank_lines(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"text": "a", "external_id": "x1", "created_at": "2026-01-01T00:00:00Z", "source": "tw"}\n\n{"text": ""}\n',
        encoding="utf-8",
    )
    mentions = read_mentions(path)
    assert [(m.text, m.external_id, m.source, m.line) for m in mentions] == [("a", "x1", "tw", 1), ("", None, None, 3)]


def test_csv_with_quoted_newlines(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('external_id,text\n7,"hello, world"\n8,"two\nlines"\n', encoding="utf-8")
    assert [(m.external_id, m.text) for m in read_mentions(path)] == [("7", "hello, world"), ("8", "two\nlines")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.jsonl", b'{"text": "ok"}\n[1, 2]\n', "m.jsonl:2: expected a JSON object, got list"),
        ("m.jsonl", b'{"text": "ok"}\n{"body": "x"}\n', "m.jsonl:2: object has no 'text' field"),
        ("m.jsonl", b'{"text": 5}\n', "m.jsonl:1: 'text' must be a string"),
        ("m.jsonl", b"{nope\n", "m.jsonl:1: not valid JSON"),
        ("m.txt", b"fine\nbad \xff byte\n", "m.txt:2: invalid UTF-8"),
        ("m.csv", b"body\nx\n", "m.csv:1: the header has no 'text' column"),
        ("m.json", b"{}", "unsupported extension '.json'"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_mentions(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        read_mentions(tmp_path / "none.txt")
    folder = tmp_path / "dir.txt"
    folder.mkdir()
    with pytest.raises(InputFileError, match="is a directory"):
        read_mentions(folder)
