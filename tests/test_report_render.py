"""Report pages cannot run anything: data is escaped where it becomes HTML, Markdown outputs are
shown as text, and a finished page holding anything active is refused (``check_inert``)."""

from __future__ import annotations

import nbformat
import pytest
from report_store import HOSTILE_NAME

from sjrlib.report.narrative import Callout, Paragraph, Strong
from sjrlib.report.render import RenderError, check_inert, render_html


def _notebook(*outputs: dict) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("## A section"))
    cell = nbformat.v4.new_code_cell("display(x)")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    nb.cells.append(cell)
    return nb


def _display(mime: str, text: str) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {mime: text}}


def test_markdown_from_data_is_shown_as_text():
    page = render_html(_notebook(_display("text/markdown", f"**{HOSTILE_NAME}**")),
                       title=HOSTILE_NAME, kicker=HOSTILE_NAME, notice=HOSTILE_NAME)
    assert "<script" not in page and "onerror=" not in page.replace("onerror=alert(2)&gt;", "")
    assert 'href="javascript' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_report_text_objects_escape_everything():
    html = Paragraph(Strong(HOSTILE_NAME), f" ({HOSTILE_NAME})")._repr_html_()
    html += Callout([HOSTILE_NAME], heading=HOSTILE_NAME)._repr_html_()
    check_inert(html)
    assert html.count("&lt;script&gt;") == 4
    assert str(Paragraph(Strong("a"), "b")) == "ab"


@pytest.mark.parametrize("fragment", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    '<a href="javascript:alert(3)">click</a>',
    '<a href="  JaVa&#x09;script:alert(3)">click</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="http://example.org/">plain http</a>',
    '<a href="//example.org/x">another host</a>',
    '<a href="/etc/passwd">the server root</a>',
    '<a href="../../elsewhere.html">out of the report folder</a>',
    '<img src="https://example.org/track.png">',
    '<iframe src="https://example.org"></iframe>',
    '<form action="https://example.org"><button>go</button></form>',
    '<svg onload="alert(1)"></svg>',
    '<div style="background:url(https://example.org/x.png)">x</div>',
    '<meta http-equiv="refresh" content="0;url=https://example.org">',
    '<base href="https://example.org/">',
])
def test_anything_active_is_refused(fragment):
    with pytest.raises(RenderError, match="active content"):
        check_inert(f"<p>before</p>{fragment}<p>after</p>")


@pytest.mark.parametrize("fragment", [
    '<a href="https://www.england.nhs.uk/">NHS England</a>',
    '<a href="#what-to-look-at">a section</a>',
    '<a href="trusts/RXX.html">a trust report</a>',
    '<a href="../index.html">the index</a>',
    '<img alt="chart" src="data:image/png;base64,iVBORw0KGgo=">',
    '<span class="sjr-seg" style="width:12.50%;background:#005eb8;color:#fff">12%</span>',
    "<p>[click](javascript:alert(3)) as text is only text</p>",
    "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>",
])
def test_what_a_report_needs_is_allowed(fragment):
    check_inert(f"<p>before</p>{fragment}<p>after</p>")


def test_a_page_with_an_active_output_is_not_written(tmp_path):
    from sjrlib.report.render import write_html

    nb = _notebook(_display("text/html", '<a href="javascript:alert(1)">x</a>'))
    with pytest.raises(RenderError):
        write_html(nb, tmp_path / "page.html", title="t")
    assert not (tmp_path / "page.html").exists()


def test_pages_are_private_and_never_written_through_a_link(tmp_path):
    import stat

    from sjrlib.report.render import write_html

    target = tmp_path / "elsewhere.txt"
    target.write_text("not a report")
    page = tmp_path / "out" / "page.html"
    page.parent.mkdir()
    page.symlink_to(target)
    write_html(_notebook(_display("text/plain", "hello")), page, title="t")
    assert target.read_text() == "not a report", "the link's target is untouched"
    assert not page.is_symlink() and "hello" in page.read_text()
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert [p.name for p in page.parent.iterdir()] == ["page.html"]  # no part file left
