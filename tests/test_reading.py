"""Tests for corpus.reading: every fixture file is built here, in tmp_path."""

from __future__ import annotations

import codecs
import io
import os
import random
import time
import zipfile
from pathlib import Path

import docx
import pypdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import reading
from corpus.errors import CorpusNotFoundError, DocumentReadError
from corpus.reading import RawText, iter_corpus_files, read_text

NOISE = random.Random(20260516).randbytes(256)  # fixed "random" bytes, same on every run
POLICY = "一、总体要求\n1. 推动重点行业稳增长。（市工业和信息化局负责）"

# A real passage (威海市 2026 行动方案), kept with its blank lines and half-width
# parenthesis, to check decoding keeps every character.
PASSAGE = (
    "二、聚力产业能级跃升，打造现代化产业体系\r\n\r\n"
    "4. 优化提升传统产业。坚持智能化、绿色化、融合化方向，优化提升船舶海工、机械制造、"
    "轻纺服装、食品加工等传统产业，重点突破“工装+个性定制”“房车+智能网联”等差异化发展路径。"
    "攻关 LNG、甲醇等新能源船型，确保市级以上农业产业化重点龙头企业数量稳定在 190 家以上。\r\n\r\n"
    "（市工业和信息化局、农业农村局、海洋发展局按职责分工负责）\r\n"
    "11. 强化科工一体。培育首台(套)技术装备等“四首”新产品 20 个，"
    "规模以上高新技术产业产值占比保持 70%左右。\u3000\n"
)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def read_error(path: Path) -> str:
    with pytest.raises(DocumentReadError) as info:
        read_text(path)
    assert info.value.path == path
    message = str(info.value)
    assert message.startswith(f"{path.name}: ")
    return message


# -- plain text: encodings -------------------------------------------------------------------


def test_utf8_is_read_exactly(tmp_path):
    path = write(tmp_path, "plan.txt", PASSAGE.encode("utf-8"))
    assert read_text(path) == RawText(text=PASSAGE, encoding="utf-8", format="text")


def test_ascii_only_file_reads_as_utf8(tmp_path):
    path = write(tmp_path, "readme.md", b"# Plan\n\nNo Chinese here.\n")
    assert read_text(path) == RawText(text="# Plan\n\nNo Chinese here.\n", encoding="utf-8", format="markdown")


def test_utf8_bom_is_dropped_and_reported(tmp_path):
    path = write(tmp_path, "plan.txt", codecs.BOM_UTF8 + POLICY.encode("utf-8"))
    raw = read_text(path)
    assert raw.text == POLICY
    assert raw.encoding == "utf-8-sig"


@pytest.mark.parametrize(
    "data",
    [
        POLICY.encode("utf-16"),  # BOM in the machine's order
        codecs.BOM_UTF16_LE + POLICY.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + POLICY.encode("utf-16-be"),
    ],
    ids=["native", "le", "be"],
)
def test_utf16_with_bom(tmp_path, data):
    raw = read_text(write(tmp_path, "plan.txt", data))
    assert raw.text == POLICY
    assert raw.encoding == "utf-16"


def test_gbk_policy_text(tmp_path):
    path = write(tmp_path, "plan.txt", POLICY.encode("gbk"))
    assert read_text(path) == RawText(text=POLICY, encoding="gb18030", format="text")


def test_gbk_passage_keeps_crlf_and_every_character(tmp_path):
    path = write(tmp_path, "plan.md", PASSAGE.encode("gbk"))
    raw = read_text(path)
    assert raw.text == PASSAGE
    assert raw.text.count("\r\n") == PASSAGE.count("\r\n")
    assert raw.format == "markdown"


def test_gb18030_only_characters(tmp_path):
    # € and the rare hanzi 䶮 (Ext. A) have no GBK code; GB18030 encodes them in four bytes.
    text = POLICY + "\n预算 100€，人名用字：䶮。\n"
    path = write(tmp_path, "plan.txt", text.encode("gb18030"))
    assert read_text(path) == RawText(text=text, encoding="gb18030", format="text")


def test_short_gbk_words(tmp_path):
    # Tiny files give charset detectors little to go on; the GB2312 check does not need more.
    for word in ["威海市", "联通", "负责"]:
        path = write(tmp_path, "word.txt", word.encode("gbk"))
        assert read_text(path).text == word


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, len(PASSAGE) - 40), length=st.integers(40, len(PASSAGE)))
def test_any_gbk_slice_of_real_text_decodes_back(tmp_path, start, length):
    text = PASSAGE[start : start + length]
    raw = read_text(write(tmp_path, "slice.txt", text.encode("gbk")))
    assert raw.text == text
    assert raw.encoding == "gb18030"


_printable = st.characters(blacklist_categories=("Cc", "Cs"))


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.one_of(_printable, st.sampled_from("\n\r\t")), min_size=1).filter(str.strip))
def test_any_utf8_text_is_read_back_unchanged(tmp_path, text):
    if text.startswith("\ufeff"):  # a leading U+FEFF is a byte-order mark, not text
        text = "x" + text
    raw = read_text(write(tmp_path, "any.txt", text.encode("utf-8")))
    assert raw.text == text


def test_two_megabyte_single_line_reads_fast(tmp_path):
    line = "推动重点行业稳增长ABC" * (2 * 1024 * 1024 // 30)  # ~2 MB of UTF-8, no newline
    utf8 = write(tmp_path, "long.txt", line.encode("utf-8"))
    gbk = write(tmp_path, "long-gbk.txt", line.encode("gbk"))
    assert utf8.stat().st_size > 2_000_000
    started = time.perf_counter()
    assert read_text(utf8).text == line
    assert read_text(gbk).text == line
    assert time.perf_counter() - started < 5  # both take well under a second


def test_suffix_is_case_insensitive(tmp_path):
    path = write(tmp_path, "PLAN.TXT", POLICY.encode("utf-8"))
    assert read_text(path).format == "text"


# -- plain text: problems --------------------------------------------------------------------


def test_empty_file(tmp_path):
    message = read_error(write(tmp_path, "empty.txt", b""))
    assert "empty file" in message
    assert "文件为空" in message


def test_file_of_only_a_bom_is_empty(tmp_path):
    assert "empty file" in read_error(write(tmp_path, "bom.txt", codecs.BOM_UTF8))


@pytest.mark.parametrize("data", [b" \n\r\n\t ", "\u3000\u3000\n".encode("utf-8"), "\u3000 \n".encode("gbk")])
def test_whitespace_only(tmp_path, data):
    message = read_error(write(tmp_path, "blank.txt", data))
    assert "only whitespace" in message


def test_nul_bytes_look_binary(tmp_path):
    message = read_error(write(tmp_path, "data.txt", b"policy\x00\x01\x02text"))
    assert "looks binary (NUL bytes)" in message


def test_png_looks_binary(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    message = read_error(write(tmp_path, "scan.txt", png))
    assert "looks binary (PNG image)" in message


def test_docx_named_txt_looks_like_a_zip(tmp_path):
    message = read_error(write(tmp_path, "plan.txt", _docx_bytes(["一、总体要求"])))
    assert "looks binary (ZIP archive" in message
    assert "real suffix" in message


def test_control_characters_look_binary(tmp_path):
    message = read_error(write(tmp_path, "data.md", b"\x01\x02\x03\x1b[0m policy\x07\x08"))
    assert "looks binary (control characters)" in message


@pytest.mark.parametrize(
    "data",
    [
        b"\x80",  # not a lead byte in UTF-8 nor in GB18030
        b"abc \x81\x30\x81",  # truncated four-byte GB18030 sequence
        POLICY.encode("gbk")[:-1],  # GBK text cut in the middle of a character
        "策略".encode("utf-8") + "负责".encode("gbk"),  # mixed encodings
        "中華民國的東西很好，謝謝你們。關於進一步加強產業發展與經濟運行的實施意見。".encode("big5"),
    ],
    ids=["lone-80", "truncated-gb18030", "cut-gbk", "mixed", "big5"],
)
def test_undecodable_bytes(tmp_path, data):
    message = read_error(write(tmp_path, "bad.txt", data))
    assert "cannot decode as UTF-8, UTF-16 or GB18030" in message
    assert "save the file as UTF-8" in message


def test_utf16_bom_with_broken_body(tmp_path):
    message = read_error(write(tmp_path, "bad.txt", b"\xff\xfe\xfa"))  # odd number of bytes
    assert "cannot decode as UTF-16" in message


def test_utf8_bom_with_broken_body(tmp_path):
    message = read_error(write(tmp_path, "bad.txt", codecs.BOM_UTF8 + POLICY.encode("gbk")))
    assert "cannot decode as UTF-8" in message
    assert "byte-order mark" in message


def test_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "MAX_BYTES", 10)
    assert read_text(write(tmp_path, "fits.txt", b"0123456789")).text == "0123456789"
    message = read_error(write(tmp_path, "big.txt", b"0123456789A"))
    assert "larger than 10 bytes" in message


def test_too_large_message_in_mib(tmp_path):
    assert reading.MAX_BYTES == 20 * 1024 * 1024
    assert reading._too_large(25 * 1024 * 1024).startswith("file is 25 MiB, larger than 20 MiB")


@pytest.mark.parametrize("name,shown", [("budget.xlsx", ".xlsx"), ("scan.PNG", ".png"), ("README", "(no suffix)")])
def test_unsupported_suffix(tmp_path, name, shown):
    message = read_error(write(tmp_path, name, b"anything"))
    assert f"unsupported file type {shown}" in message
    assert ".txt .md .docx .pdf" in message


def test_missing_file(tmp_path):
    message = read_error(tmp_path / "gone.txt")
    assert "file not found" in message


def test_directory(tmp_path):
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    assert "is a directory" in read_error(folder)


def test_permission_error_is_explained(tmp_path, monkeypatch):
    # chmod cannot make a file unreadable for root (CI runs as root): fake the refusal.
    path = write(tmp_path, "secret.txt", b"text")

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    assert "permission denied" in read_error(path)


# -- .docx -----------------------------------------------------------------------------------


def _docx_bytes(paragraphs: list[str], table: list[list[str]] | None = None, after: list[str] = ()) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table is not None:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    for text in after:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_paragraphs_and_table_in_document_order(tmp_path):
    data = _docx_bytes(
        ["关于印发行动方案的通知", "一、总体要求"],
        table=[["任务", "责任单位"], ["推动重点行业稳增长", "市工业和信息化局"]],
        after=["七、保障措施"],
    )
    raw = read_text(write(tmp_path, "plan.docx", data))
    assert raw == RawText(
        text="关于印发行动方案的通知\n一、总体要求\n任务\t责任单位\n推动重点行业稳增长\t市工业和信息化局\n七、保障措施",
        encoding="docx",
        format="docx",
    )


def test_docx_merged_cell_is_read_once(tmp_path):
    document = docx.Document()
    grid = document.add_table(rows=2, cols=3)
    grid.cell(0, 0).merge(grid.cell(0, 2)).text = "重点任务清单"
    for c, value in enumerate(["序号", "任务", "单位"]):
        grid.cell(1, c).text = value
    path = tmp_path / "table.docx"
    document.save(path)
    assert read_text(path).text == "重点任务清单\n序号\t任务\t单位"


def test_docx_without_text(tmp_path):
    message = read_error(write(tmp_path, "blank.docx", _docx_bytes(["", "   "])))
    assert "has no text" in message


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        NOISE[:64] + b"not a zip",
        b"PK\x03\x04" + b"\x00" * 40,  # a ZIP header and nothing behind it
        _zip({"hello.txt": "not a Word package"}),
        _zip({"[Content_Types].xml": "<Types", "word/document.xml": "<w:document"}),  # broken XML
    ],
    ids=["random-bytes", "truncated-zip", "zip-without-word-parts", "broken-xml"],
)
def test_corrupt_docx(tmp_path, data):
    message = read_error(write(tmp_path, "broken.docx", data))
    assert "not a valid .docx file" in message


def test_truncated_docx(tmp_path):
    data = _docx_bytes(["一、总体要求"] * 50)
    message = read_error(write(tmp_path, "cut.docx", data[: len(data) // 2]))
    assert "not a valid .docx file" in message


def test_old_word_doc_named_docx(tmp_path):
    message = read_error(write(tmp_path, "old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100))
    assert "not a valid .docx file" in message
    assert "Word 97-2003 .doc" in message


# -- .pdf ------------------------------------------------------------------------------------


def _pdf_bytes(*page_streams: bytes) -> bytes:
    """A minimal PDF: one page per content stream, Helvetica as F1, a correct xref table."""
    page_count = len(page_streams)
    font = 3 + 2 * page_count  # object numbers: 1 catalog, 2 pages, then page/content pairs
    kids = b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(page_count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, page_count),
    ]
    for i, stream in enumerate(page_streams):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font, 4 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")

    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _text_stream(text: str) -> bytes:
    return b"BT /F1 18 Tf 72 720 Td (%s) Tj ET" % text.encode("ascii")


def test_hand_written_pdf_is_valid():
    # The helper itself: pypdf opens it without repairing the xref.
    reader = pypdf.PdfReader(io.BytesIO(_pdf_bytes(_text_stream("Hello"))), strict=True)
    assert len(reader.pages) == 1


def test_pdf_with_text_layer(tmp_path):
    path = write(tmp_path, "plan.pdf", _pdf_bytes(_text_stream("Industrial action plan 2026")))
    raw = read_text(path)
    assert raw.text.strip() == "Industrial action plan 2026"
    assert (raw.encoding, raw.format) == ("pdf", "pdf")


def test_pdf_pages_are_joined_by_a_blank_line(tmp_path):
    path = write(tmp_path, "two.pdf", _pdf_bytes(_text_stream("Page one"), _text_stream("Page two")))
    pages = read_text(path).text.split("\n\n")
    assert [page.strip() for page in pages] == ["Page one", "Page two"]


def test_pdf_without_text_layer(tmp_path):
    drawing = b"0 0 1 rg 72 72 200 100 re f"  # a filled rectangle, like a scanned image
    message = read_error(write(tmp_path, "scan.pdf", _pdf_bytes(drawing)))
    assert "PDF has no text layer (scanned?)" in message
    assert "OCR" in message


def _encrypted(data: bytes, user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_encrypted_pdf(tmp_path):
    data = _encrypted(_pdf_bytes(_text_stream("Secret plan")), user_password="secret")
    message = read_error(write(tmp_path, "locked.pdf", data))
    assert "PDF is encrypted" in message


def test_pdf_encrypted_with_empty_user_password_opens(tmp_path):
    data = _encrypted(_pdf_bytes(_text_stream("Open plan")), user_password="")
    assert read_text(write(tmp_path, "restricted.pdf", data)).text.strip() == "Open plan"


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\nthis is not a pdf body at all\n", b"%PDF-1.7\n" + NOISE, NOISE],
    ids=["header-only", "header-and-random-bytes", "random-bytes"],
)
def test_corrupt_pdf(tmp_path, data):
    message = read_error(write(tmp_path, "broken.pdf", data))
    assert "not a valid PDF file" in message


def test_truncated_pdf(tmp_path):
    data = _pdf_bytes(_text_stream("Industrial action plan 2026"))
    message = read_error(write(tmp_path, "cut.pdf", data[:120]))
    assert "not a valid PDF file" in message


def test_web_page_named_pdf(tmp_path):
    message = read_error(write(tmp_path, "download.pdf", b"<html><body>404 Not Found</body></html>"))
    assert "no %PDF- header" in message


# -- iter_corpus_files -----------------------------------------------------------------------


def test_iter_corpus_files_sorts_recurses_and_filters(tmp_path):
    keep = ["a.md", "b.txt", "C.TXT", "sub/a.pdf", "sub/deeper/z.docx", "z.txt"]
    skip = [
        ".hidden.txt",
        ".git/notes.txt",
        "sub/.cache/old.txt",
        "b.txt.meta.json",
        "notes.meta.json",
        "budget.xlsx",
        "~$plan.docx",
        "README",
    ]
    for name in keep + skip:
        write(tmp_path, name, b"x")
    (tmp_path / "empty-folder").mkdir()

    found = iter_corpus_files(tmp_path)

    assert found == [
        tmp_path / "C.TXT",
        tmp_path / "a.md",
        tmp_path / "b.txt",
        tmp_path / "sub" / "a.pdf",
        tmp_path / "sub" / "deeper" / "z.docx",
        tmp_path / "z.txt",
    ]


def test_iter_corpus_files_of_an_empty_folder(tmp_path):
    assert iter_corpus_files(tmp_path) == []


def test_iter_corpus_files_missing_folder(tmp_path):
    with pytest.raises(CorpusNotFoundError, match="corpus folder not found"):
        iter_corpus_files(tmp_path / "nowhere")


def test_iter_corpus_files_then_read_every_file(tmp_path):
    write(tmp_path, "gbk.txt", POLICY.encode("gbk"))
    write(tmp_path, "utf8.md", POLICY.encode("utf-8"))
    write(tmp_path, "plan.docx", _docx_bytes(POLICY.split("\n")))
    texts = {path.name: read_text(path).text for path in iter_corpus_files(tmp_path)}
    assert texts == {"gbk.txt": POLICY, "plan.docx": POLICY, "utf8.md": POLICY}
