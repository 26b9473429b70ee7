"""The page's files and the CSV cell rule, without a server."""

from __future__ import annotations

import pytest

from serve_app.errors import PageNotFoundError
from serve_app.page import STATIC_DIR, is_page_path, page_file
from storage.export import COLUMNS, header, neutralise


def test_the_page_is_served_with_a_strict_policy():
    response = page_file("index.html")
    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert response.media_type == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    "name", ["../__init__.py", "../../gateway.py", "/etc/passwd", "nope.js", "app.js/../../x.html"]
)
def test_nothing_outside_the_static_folder_is_served(name):
    with pytest.raises(PageNotFoundError):
        page_file(name)


def test_everything_the_page_loads_ships_with_the_project():
    html = (STATIC_DIR.parent / "index.html").read_text(encoding="utf-8")
    for asset in ("static/app.js", "static/app.css", "static/vendor/uplot/uPlot.iife.min.js", "static/favicon.svg"):
        assert f'"{asset}"' in html and (STATIC_DIR.parent / asset).is_file()
    assert "http://" not in html and "https://" not in html and "<script>" not in html and "style=" not in html
    assert (STATIC_DIR / "vendor" / "uplot" / "LICENSE.txt").is_file()
    assert "uplot 1.6.32" in (STATIC_DIR / "vendor" / "uplot" / "VERSION.txt").read_text(encoding="utf-8")


def test_only_the_page_its_files_and_its_config_are_open():
    assert is_page_path("/") and is_page_path("/static/app.js") and is_page_path("/page-config.json")
    assert not is_page_path("/v1/overview") and not is_page_path("/staticx") and not is_page_path("/docs")


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+31 6", "'+31 6"),
        ("-5", "'-5"),
        ("@me", "'@me"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_formula_cells_get_a_leading_quote(cell, written):
    assert neutralise(cell) == written


def test_the_header_names_the_documented_columns():
    assert (
        header() == ("external_id,created_at,source,language,text,emotion,sentiment,sentiment_score,topics\r\n")
        and len(COLUMNS) == 9
    )
