"""Executed notebook -> one self-contained HTML page a trust lead can hand to their board.

nbconvert's ``basic`` template with the code hidden (``exclude_input``) and no prompts, wrapped
in our own page: a title bar, a table of contents built from the section headings, print-friendly
CSS (A4, no navigation, tables and figures not split across pages), figures embedded as PNG
(``data:`` URIs, nothing fetched from the network). A notebook with an error output is refused
(:class:`RenderError`): a failing cell fails the report, it never renders a traceback. Warnings
written to stderr are left out of the page.

Nothing in a page can run. Every string that comes from the store or the parameters
(organisation names above all) is escaped where it is turned into HTML (``sjrlib.report``'s
``_repr_html_`` methods; no report output is Markdown, whose raw HTML and links would pass
through). As a second line, :func:`check_inert` reads the finished page and refuses
(:class:`RenderError`, nothing written) any script, embedded object or frame, event-handler
attribute, form, ``<base>``/``<meta http-equiv>``, link that is not ``https:``, a relative path
inside the report folder or an anchor, and any source the browser would load other than an
embedded PNG/JPEG/GIF image.

A report of a store marked synthetic (``sjr demo-data``: ``store_meta.synthetic = 'yes'``, read by
:func:`sjrlib.report.stamp.store_is_synthetic`) says so at the top of every page, above
everything else: the notebook displays :class:`SyntheticBanner` first, and :func:`render_html`
lifts it out of the body into a banner under the title bar (printed too, so a PDF of the page
carries it). A real store's pages have none.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: nbformat's import alone costs seconds (jsonschema's
    # grammars, STACK-NOTES), and the index of a refresh with nothing to render needs neither
    import nbformat
    from nbconvert import HTMLExporter

__all__ = ["SYNTHETIC_NOTICE", "RenderError", "SyntheticBanner", "check_inert", "is_synthetic_page",
           "render_html", "synthetic_banner_html", "write_html", "write_index"]

SYNTHETIC_NOTICE = ("Synthetic demonstration data. Every organisation, patient, review and "
                    "figure here is fictional. Not for clinical, governance or publication use.")
"""The banner of every output of a store marked synthetic (pages, index, workbooks, PDFs)."""
SYNTHETIC_CLASS = "sjr-synthetic"
_SYNTHETIC_MARK = f'class="{SYNTHETIC_CLASS}"'


def synthetic_banner_html() -> str:
    """The banner as HTML (a page's first line under its title bar)."""
    head, rest = SYNTHETIC_NOTICE.split(". ", 1)
    return (f'<p {_SYNTHETIC_MARK} role="note"><strong>{html.escape(head)}.</strong> '
            f"{html.escape(rest)}</p>\n")


def is_synthetic_page(page: str) -> bool:
    """Whether a rendered page carries the synthetic-data banner."""
    return _SYNTHETIC_MARK in page


class SyntheticBanner:
    """What a report notebook displays first when its store is marked synthetic;
    :func:`render_html` moves it to the top of the page."""

    def _repr_html_(self) -> str:
        return synthetic_banner_html()

    def __repr__(self) -> str:
        return SYNTHETIC_NOTICE

_HEADING = re.compile(r'<h([23]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)
_TAG = re.compile(r"<[^>]+>")

CSS = """
:root { --blue: #005eb8; --dark: #212b32; --grey: #4c6272; --pale: #f0f4f5; --line: #d8dde0; }
* { box-sizing: border-box; }
body { font-family: Arial, "Helvetica Neue", Helvetica, sans-serif; color: var(--dark);
       margin: 0; line-height: 1.45; font-size: 15px; background: #fff; }
header.sjr-title { background: var(--blue); color: #fff; padding: 18px 32px; }
header.sjr-title .kicker { font-size: 13px; opacity: .9; letter-spacing: .02em; }
header.sjr-title h1 { margin: 4px 0 0; font-size: 26px; }
.sjr-page { display: flex; gap: 32px; max-width: 1180px; margin: 0 auto; padding: 24px 32px; }
nav.sjr-toc { flex: 0 0 220px; position: sticky; top: 12px; align-self: flex-start;
              font-size: 13px; border-left: 4px solid var(--blue); padding: 4px 0 4px 12px; }
nav.sjr-toc h2 { font-size: 14px; margin: 0 0 6px; }
nav.sjr-toc ol { margin: 0; padding-left: 18px; }
nav.sjr-toc li { margin: 3px 0; }
nav.sjr-toc ul { margin: 2px 0; padding-left: 4px; list-style: none; }
nav.sjr-toc li.sub { list-style: none; margin-left: 4px; font-size: 12px; }
nav.sjr-toc a { color: var(--blue); text-decoration: none; }
main { flex: 1 1 auto; min-width: 0; }
main h1 { display: none; }
main h2 { color: var(--blue); border-bottom: 2px solid var(--line); padding-bottom: 4px;
          margin-top: 36px; font-size: 21px; }
main h3 { font-size: 17px; margin-top: 24px; }
a.anchor-link { display: none; }
table.sjr-table { border-collapse: collapse; margin: 8px 0 4px; font-size: 13.5px;
                  font-variant-numeric: tabular-nums; }
table.sjr-table caption { caption-side: top; text-align: left; font-weight: bold;
                          padding: 4px 0 6px; font-size: 14px; }
table.sjr-table th, table.sjr-table td { border-bottom: 1px solid var(--line);
                                        padding: 4px 10px; vertical-align: top; }
table.sjr-table thead th { background: var(--pale); text-align: right;
                           border-bottom: 2px solid var(--grey); }
table.sjr-table thead th:first-child, table.sjr-table tbody th { text-align: left; }
table.sjr-table tbody th { font-weight: normal; max-width: 420px; }
table.sjr-table td { text-align: right; white-space: nowrap; }
table.sjr-table td.text { text-align: left; white-space: normal; max-width: 46em; }
table.sjr-table thead th.text { text-align: left; }
table.sjr-table tr.total th, table.sjr-table tr.total td { font-weight: bold;
                                                           border-top: 2px solid var(--grey); }
p.sjr-note { font-size: 12.5px; color: var(--grey); margin: 2px 0 14px; max-width: 820px; }
.sjr-notice { background: #fff4e5; border: 2px solid #ed8b00; color: var(--dark);
              font-weight: bold; padding: 10px 32px; margin: 0;
              -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.sjr-synthetic { background: #d5281b; color: #fff; font-size: 16px; padding: 12px 32px;
                 margin: 0; border-bottom: 4px solid #8a1538;
                 -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.sjr-synthetic strong { letter-spacing: .04em; margin-right: 6px; }
.sjr-callout { background: var(--pale); border-left: 6px solid var(--blue);
               padding: 10px 16px; margin: 12px 0; }
.sjr-callout ul { margin: 4px 0; padding-left: 20px; }
.sjr-stamp { font-size: 12.5px; }
.sjr-stamp td, .sjr-stamp th { text-align: left !important; white-space: normal !important; }
figure.sjr-figure { margin: 10px 0 18px; }
.sjr-bars { margin: 14px 0 8px; max-width: 860px; }
.sjr-bars-title { font-weight: bold; font-size: 14px; margin-bottom: 6px; }
.sjr-bar-row { display: flex; align-items: center; gap: 10px; margin: 5px 0; font-size: 13px; }
.sjr-bar-label { flex: 0 0 210px; text-align: right; }
.sjr-bar { flex: 1 1 auto; display: flex; height: 24px; background: #f0f4f5; }
.sjr-seg { display: flex; align-items: center; justify-content: center; font-size: 12px;
           -webkit-print-color-adjust: exact; print-color-adjust: exact;
           border-right: 1px solid #fff; overflow: hidden; }
.sjr-bar-empty { font-size: 12px; color: #4c6272; padding: 4px 8px; }
.sjr-bar-n { flex: 0 0 70px; font-size: 12px; color: #4c6272; }
.sjr-legend { margin: 8px 0 0 220px; font-size: 12px; display: flex; gap: 14px;
              flex-wrap: wrap; }
.sjr-legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
                vertical-align: -1px; -webkit-print-color-adjust: exact;
                print-color-adjust: exact; }
.jp-OutputArea-output img, main img { max-width: 100%; height: auto; display: block;
                                     margin: 6px 0 2px; }
.jp-RenderedText pre, pre { white-space: pre-wrap; }
footer.sjr-footer { max-width: 1180px; margin: 0 auto; padding: 12px 32px 32px;
                    font-size: 12px; color: var(--grey); border-top: 1px solid var(--line); }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  body { font-size: 11pt; }
  header.sjr-title { background: none; color: #000; border-bottom: 3px solid #000;
                     padding: 0 0 8px; }
  nav.sjr-toc { display: none; }
  .sjr-page { display: block; padding: 0; max-width: none; }
  main h2 { break-after: avoid; page-break-after: avoid; }
  table.sjr-table, img, figure, .sjr-bars, .sjr-callout { break-inside: avoid;
    page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


class RenderError(RuntimeError):
    """The executed notebook cannot be published (it holds an error output, or the page would
    hold something that runs)."""


_ACTIVE_TAGS = frozenset({
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "form",
    "input", "button", "textarea", "select", "link", "portal", "noscript", "template",
})
"""Elements a report page never needs: each can run code, load or submit something."""
_URL_ATTRIBUTES = frozenset({
    "href", "src", "action", "formaction", "xlink:href", "srcset", "poster", "background",
    "data", "codebase", "cite", "longdesc", "ping", "manifest", "lowsrc", "dynsrc",
})
_IMAGE_DATA = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*$", re.I)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.I)
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")


_LOADS = frozenset({"src", "srcset", "poster", "background", "data", "lowsrc", "dynsrc"})
"""Attributes whose URL the browser fetches on its own: only embedded images (a page fetches
nothing from the network)."""


def _safe_url(value: str, attribute: str) -> bool:
    """For a link: ``https:``, a relative path that stays inside the report folder, or an
    anchor. For a source the browser loads by itself: an embedded PNG/JPEG/GIF only."""
    if attribute in _LOADS:
        return bool(_IMAGE_DATA.match(value.strip()))
    bare = _CONTROL.sub("", html.unescape(value))  # browsers ignore these inside a scheme
    scheme = _SCHEME.match(bare)
    if scheme:
        return scheme[1].lower() == "https"
    if bare.startswith(("//", "\\", "/\\", "\\/")):  # scheme-relative: another host
        return False
    if bare.startswith("/"):  # the root of whatever serves the folder: outside it
        return False
    depth = 0
    for part in bare.split("#")[0].split("?")[0].split("/"):
        depth += -1 if part == ".." else 0 if part in ("", ".") else 1
        if depth < -1:  # index.html links trusts/X.html; a trust page may link ../index.html
            return False
    return True


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        tag = tag.lower()
        if tag in _ACTIVE_TAGS or tag.startswith(("svg", "math")):
            self.problems.append(f"a <{tag}> element")
        if tag == "meta" and any(k.lower() == "http-equiv" for k, _ in attrs):
            self.problems.append("a <meta http-equiv> element")
        for key, value in attrs:
            key = key.lower()
            if key.startswith("on"):
                self.problems.append(f"an event attribute {key}= on <{tag}>")
            elif key in _URL_ATTRIBUTES and value is not None and not _safe_url(value, key):
                self.problems.append(f"a {key}= that is not an allowed link or image on <{tag}>")
            elif key == "style" and value and re.search(r"url\s*\(|expression\s*\(|@import",
                                                        value, re.I):
                self.problems.append(f"a style= that loads something on <{tag}>")

    handle_startendtag = handle_starttag


def check_inert(page: str) -> None:
    """Raise :class:`RenderError` if ``page`` holds anything that could run or load: see the
    module docstring for what is refused. Text is never refused (it is escaped)."""
    inspector = _Inspector()
    inspector.feed(page)
    inspector.close()
    if inspector.problems:
        found = "; ".join(dict.fromkeys(inspector.problems))
        raise RenderError(f"the page would hold active content ({found}); not written")


@cache
def _exporter() -> HTMLExporter:
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def _no_markdown(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A Markdown output (``display(Markdown(...))``) shown as the text it is: Markdown passes
    raw HTML and ``javascript:`` links through, and an output may carry data. The notebook's own
    Markdown cells (the report's fixed headings and prose) are rendered as Markdown."""
    data = output.get("data")
    if not data or "text/markdown" not in data:
        return output
    if "text/html" not in data:
        text = data["text/markdown"]
        text = "".join(text) if isinstance(text, list) else str(text)
        data["text/html"] = f'<p class="sjr-text">{html.escape(text)}</p>'
    del data["text/markdown"]
    return output


def _is_banner(output: nbformat.NotebookNode) -> bool:
    text = (output.get("data") or {}).get("text/html", "")
    text = "".join(text) if isinstance(text, list) else str(text)
    return text.lstrip().startswith(f"<p {_SYNTHETIC_MARK}")


def _synthetic(nb: nbformat.NotebookNode) -> bool:
    """Whether the notebook displayed :class:`SyntheticBanner`."""
    return any(_is_banner(o) for cell in nb.cells if cell.cell_type == "code"
               for o in cell.get("outputs", []))


def _publishable(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without code, stderr streams, parameter cells or the synthetic-data banner
    (the page puts it at the top); error outputs raise."""
    import nbformat

    nb = nbformat.from_dict(nb)
    cells = []
    for index, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & {"parameters", "injected-parameters"}:
            continue
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    raise RenderError(
                        f"cell {index + 1} failed ({output.get('ename')}: {output.get('evalue')})"
                    )
            cell.outputs = [
                _no_markdown(o) for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                and not _is_banner(o)
            ]
        cells.append(cell)
    nb.cells = cells
    return nb


def _toc(body: str) -> str:
    """Contents: the sections (``<h2>``) numbered 1, 2, 3..., each with its subsections
    (``<h3>``) in an unnumbered list inside it, so a subsection takes no section's number."""
    sections: list[list[str]] = []
    for level, anchor, text in _HEADING.findall(body):
        label = html.unescape(_TAG.sub("", text)).replace("¶", "").strip()
        link = f'<a href="#{anchor}">{html.escape(label)}</a>'
        if level == "2" or not sections:
            sections.append([link])
        else:
            sections[-1].append(f'<li class="sub">{link}</li>')
    if not sections:
        return ""
    items = "".join(f"<li>{head}" + (f"<ul>{''.join(subs)}</ul>" if subs else "") + "</li>"
                    for head, *subs in sections)
    return '<nav class="sjr-toc"><h2>Contents</h2><ol>' + items + "</ol></nav>"


def render_html(nb: nbformat.NotebookNode, *, title: str, kicker: str = "",
                notice: str = "", synthetic: bool = False) -> str:
    """The executed notebook as one HTML page.

    Parameters
    ----------
    nb
        An executed notebook (e.g. from ``papermill.execute_notebook``).
    title
        The page title (the report's heading).
    kicker
        A short line above the title (e.g. the programme's name).
    notice
        A banner under the title (e.g. "For internal governance: apply disclosure control
        before publishing"); empty for none.
    synthetic
        Put the synthetic-data banner at the top; it is put there anyway when the notebook
        displayed :class:`SyntheticBanner`.

    Raises
    ------
    RenderError
        If any cell holds an error output, or the page would hold active content
        (:func:`check_inert`).
    """
    synthetic = synthetic or _synthetic(nb)
    body, _ = _exporter().from_notebook_node(_publishable(nb))
    banner = (synthetic_banner_html() if synthetic else "") + (
        f'<p class="sjr-notice" role="note">{html.escape(notice)}</p>\n' if notice else "")
    page = (
        "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header class="sjr-title"><div class="kicker">{html.escape(kicker)}</div>'
        f"<h1>{html.escape(title)}</h1></header>\n{banner}"
        f'<div class="sjr-page">{_toc(body)}<main>\n{body}\n</main></div>\n'
        '<footer class="sjr-footer">Structured Judgement Review programme. Produced by '
        "<code>sjr report</code>; the section &ldquo;About this report&rdquo; says what it "
        "was made from.</footer>\n"
        "</body>\n</html>\n"
    )
    check_inert(page)
    return page


def write_html(
    nb: nbformat.NotebookNode, path: str | Path, *, title: str, kicker: str = "",
    notice: str = "", synthetic: bool = False,
) -> Path:
    """Render ``nb`` (see :func:`render_html`) and write it to ``path``: atomically, mode
    0600, never through a symbolic link (:mod:`sjrlib.report.private_files`)."""
    from sjrlib.report.private_files import write_private

    text = render_html(nb, title=title, kicker=kicker, notice=notice, synthetic=synthetic)
    return write_private(path, text)


def _page(title: str, kicker: str, body: str, synthetic: bool = False) -> str:
    banner = synthetic_banner_html() if synthetic else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header class="sjr-title"><div class="kicker">{html.escape(kicker)}</div>'
        f"<h1>{html.escape(title)}</h1></header>\n{banner}"
        f'<div class="sjr-page"><main>{body}</main></div>\n</body>\n</html>\n'
    )


def _pages_synthetic(out_dir: Path) -> bool:
    """Whether the report pages in ``out_dir`` (those the index links) carry the
    synthetic-data banner."""
    pages = [out_dir / "national.html", out_dir / "trainers.html",
             *sorted((out_dir / "trusts").glob("*.html")),
             *sorted((out_dir / "organisation").glob("*.html"))]
    for page in pages:
        try:
            if page.is_file() and not page.is_symlink() and is_synthetic_page(
                    page.read_text(encoding="utf-8", errors="replace")[:200_000]):
                return True
        except OSError:
            continue
    return False


def write_index(out_dir: str | Path, organisations, period_label: str,
                missing: Mapping[str, str] | None = None, *,
                synthetic: bool | None = None) -> Path:
    """``index.html`` linking the national report and every organisation's report.

    Organisations are listed by nation and region, then alphabetically by name: an index, not a
    ranking. Reports not present in ``out_dir`` (not run, or failed) are listed without a link,
    and so are those named in ``missing`` (``"national"`` or an organisation code -> why the
    batch has no report for it, e.g. it failed), with the reason, even if an older page is
    still there.

    ``synthetic``: whether the store is marked synthetic (the banner goes on the index);
    ``None``: whether any page it links carries the banner.
    """
    out_dir = Path(out_dir)
    if synthetic is None:
        synthetic = _pages_synthetic(out_dir)
    missing = dict(missing or {})
    parts = ["<h2>National</h2><ul>"]
    if "national" in missing:
        parts.append(f"<li>National report ({html.escape(missing['national'])})</li>")
    elif (out_dir / "national.html").exists():
        parts.append('<li><a href="national.html">National report</a></li>')
    else:
        parts.append("<li>National report (not produced)</li>")
    parts.append("</ul>")
    orgs = organisations.copy()
    orgs["nation_"] = orgs["nation"].astype(str)
    orgs["region_"] = orgs["region"].astype(str)
    orgs["name_"] = orgs["name"].astype(str)
    orgs = orgs.sort_values(["nation_", "region_", "name_"])
    for nation, by_nation in orgs.groupby("nation_", sort=False):
        parts.append(f"<h2>{html.escape(nation.title())}</h2>")
        for region, by_region in by_nation.groupby("region_", sort=False):
            if region.lower() != nation.lower():
                parts.append(f"<h3>{html.escape(region)}</h3>")
            parts.append("<ul>")
            for row in by_region.itertuples():
                code = str(row.organisation_code)
                label = f"{html.escape(row.name_)} ({html.escape(code)})"
                page = out_dir / "trusts" / f"{code}.html"
                book = out_dir / "trusts" / f"{code}-lfd.xlsx"
                if code in missing:
                    link = f"{label} ({html.escape(missing[code])})"
                elif page.exists():
                    link = f'<a href="trusts/{html.escape(code)}.html">{label}</a>'
                    if book.exists():
                        link += (f' &middot; <a href="trusts/{html.escape(code)}-lfd.xlsx">'
                                 "Learning from Deaths workbook</a>")
                else:
                    link = f"{label} (no report)"
                parts.append(f"<li>{link}</li>")
            parts.append("</ul>")
    if (out_dir / "trainers.html").exists():
        csv = (' &middot; <a href="trainers.csv">as CSV</a>'
               if (out_dir / "trainers.csv").exists() else "")
        parts.append('<h2>Training</h2><ul><li><a href="trainers.html">Tier one trainer '
                     f"directory</a>{csv}</li></ul>")
    note = ('<p class="sjr-note">Organisations are listed by nation, region and name. The '
            "programme does not compare or rank organisations.</p>")
    page = _page(f"Structured judgement review reports, {period_label}",
                 "Structured Judgement Review programme", note + "".join(parts),
                 synthetic=synthetic)
    check_inert(page)
    from sjrlib.report.private_files import write_private

    return write_private(out_dir / "index.html", page)
