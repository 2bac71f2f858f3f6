"""Turn one file of a corpus folder into text.

``read_text`` returns the file's text exactly as decoded: newlines are not
normalised and nothing is stripped, because everything downstream keeps
character offsets into it. Every bad input (missing, empty, binary,
undecodable, too large, corrupt, scanned) raises ``DocumentReadError`` with a
message that says what is wrong and how to fix it; decode errors are never
replaced silently.

Plain text (.txt, .md) is decoded by, in order: a byte-order mark (UTF-8,
UTF-16); strict UTF-8; strict GB18030 (a superset of GBK and GB2312, the usual
encodings of Chinese government files), accepted only when the result reads
like Chinese text. .docx is read with python-docx, .pdf with pypdf.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import docx
import pypdf
from charset_normalizer import from_bytes
from docx.document import Document as DocxDocument
from docx.table import Table, _Cell, _Row
from docx.text.paragraph import Paragraph
from pypdf.errors import DependencyError

from corpus.errors import CorpusNotFoundError, DocumentReadError

SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf")
MAX_BYTES = 20 * 1024 * 1024

_TEXT_FORMATS = {".txt": "text", ".md": "markdown"}
_ONLY_WHITESPACE = "file of only whitespace (文件只有空白字符): add the document's text or remove the file"
_NO_TEXT = {  # what a file without any visible character means, by format
    "text": _ONLY_WHITESPACE,
    "markdown": _ONLY_WHITESPACE,
    "docx": "the .docx has no text (文档没有文字): it may hold only images; paste or OCR the text into it",
    "pdf": "PDF has no text layer (scanned?) (PDF 没有文字层，可能是扫描件): "
    "run OCR first, e.g. ocrmypdf, and add the OCRed PDF",
}
_MIB = 1024 * 1024

# Control characters other than \t \n \v \f \r (C0, DEL and C1).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# What a wrong GB18030 guess produces: control characters, the private use
# area (GBK's user-defined rows) and characters outside the BMP (four-byte
# GB18030 sequences).
_UNLIKELY_IN_GB_TEXT = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\U00010000-\U0010ffff]")
# Share of non-ASCII characters that must be GB2312 characters (the 6763
# common hanzi plus full-width punctuation, ①, Ⅰ, ...) to accept GB18030
# without asking charset-normalizer. Real simplified Chinese is close to 100%;
# arbitrary bytes that happen to decode land there about a third of the time.
_MIN_GB2312_SHARE = 0.8
_MAX_UNLIKELY_SHARE = 0.02
_GB_ENCODINGS = frozenset({"gb18030", "gbk", "gb2312"})

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Office files, and password-protected new ones
_ENCRYPTED_PDF = (
    "PDF is encrypted (PDF 已加密): remove the password, "
    "e.g. qpdf --decrypt in.pdf out.pdf, and add the decrypted file"
)

# File signatures of things that are not text, with how to fix the file.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image", "images need OCR before they can be read"),
    (b"\xff\xd8\xff", "JPEG image", "images need OCR before they can be read"),
    (b"GIF87a", "GIF image", "images need OCR before they can be read"),
    (b"GIF89a", "GIF image", "images need OCR before they can be read"),
    (b"%PDF-", "PDF document", "rename it to .pdf"),
    (b"PK\x03\x04", "ZIP archive, e.g. a .docx or .xlsx", "give it its real suffix"),
    (_OLE2, "old Office file, e.g. .doc, .xls or .wps", "save it as .docx in Word or WPS"),
)


@dataclass(frozen=True)
class RawText:
    """The text of one file, as decoded, with how it was decoded."""

    text: str  # decoded text, unchanged
    encoding: str  # "utf-8", "utf-8-sig", "gb18030", "utf-16", "docx", "pdf"
    format: str  # "text", "markdown", "docx", "pdf"


def read_text(path: Path) -> RawText:
    """Read one corpus file into text; raise DocumentReadError for every bad input."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = suffix or "(no suffix)"
        raise DocumentReadError(
            path,
            f"unsupported file type {kind} (不支持的文件类型; supported: {' '.join(SUPPORTED_SUFFIXES)}): "
            "convert it to one of these or move it out of the corpus folder",
        )
    data = _read_bytes(path)
    if not data:
        raise DocumentReadError(path, "empty file (文件为空): add the document's text or remove the file")
    if suffix == ".docx":
        raw = RawText(text=_docx_text(path, data), encoding="docx", format="docx")
    elif suffix == ".pdf":
        raw = RawText(text=_pdf_text(path, data), encoding="pdf", format="pdf")
    else:
        raw = _decode_text(path, data, _TEXT_FORMATS[suffix])
    if not raw.text.strip():
        raise DocumentReadError(path, _NO_TEXT[raw.format])
    return raw


def iter_corpus_files(folder: Path) -> list[Path]:
    """Every corpus document under ``folder``, sorted by path inside it.

    Recursive; keeps supported suffixes only (case-insensitive); skips hidden
    files and folders, ``*.meta.json`` sidecars and Office lock files (``~$x.docx``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusNotFoundError(f"corpus folder not found: {folder} (语料目录不存在): check the path")
    found: list[Path] = []
    for root, dirnames, filenames in os.walk(folder, onerror=_raise_unlistable):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        found.extend(Path(root, name) for name in filenames if _is_corpus_file(name))
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def _is_corpus_file(name: str) -> bool:
    if name.startswith((".", "~$")) or name.lower().endswith(".meta.json"):
        return False
    return os.path.splitext(name)[1].lower() in SUPPORTED_SUFFIXES


def _raise_unlistable(exc: OSError) -> None:
    raise CorpusNotFoundError(f"cannot list folder {exc.filename}: {exc.strerror} (无法读取目录)") from exc


# -- reading bytes ---------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    try:
        info = path.stat()
    except OSError as exc:
        raise DocumentReadError(path, _os_problem(exc)) from exc
    if stat.S_ISDIR(info.st_mode):
        raise DocumentReadError(path, "is a directory, not a file (是目录而不是文件)")
    if not stat.S_ISREG(info.st_mode):
        raise DocumentReadError(path, "not a regular file (不是普通文件): it is a device, pipe or socket")
    if info.st_size > MAX_BYTES:
        raise DocumentReadError(path, _too_large(info.st_size))
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise DocumentReadError(path, _os_problem(exc)) from exc
    if len(data) > MAX_BYTES:  # grew since stat
        raise DocumentReadError(path, _too_large(len(data)))
    return data


def _os_problem(exc: OSError) -> str:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return "file not found (文件不存在): check the path"
    if isinstance(exc, PermissionError):
        return "permission denied (无权读取文件): make the file readable, e.g. chmod +r"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file (是目录而不是文件)"
    return f"cannot read the file (无法读取文件): {exc.strerror or exc}"


def _too_large(size: int) -> str:
    return (
        f"file is {_format_size(size)}, larger than {_format_size(MAX_BYTES)} (文件过大): "
        "split it into smaller documents"
    )


def _format_size(size: int) -> str:
    if size >= _MIB:
        mib = size / _MIB
        return f"{mib:.0f} MiB" if mib == int(mib) else f"{mib:.1f} MiB"
    return f"{size} bytes"


# -- plain text ------------------------------------------------------------------------------


def _decode_text(path: Path, data: bytes, text_format: str) -> RawText:
    if data.startswith(codecs.BOM_UTF8):
        text = _decode_with_bom(path, data, "utf-8-sig", "UTF-8")
        return _checked_text(path, text, "utf-8-sig", text_format)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decode_with_bom(path, data, "utf-16", "UTF-16")
        return _checked_text(path, text, "utf-16", text_format)

    for signature, kind, fix in _SIGNATURES:
        if data.startswith(signature):
            raise DocumentReadError(path, f"looks binary ({kind}), not text (疑似二进制文件): {fix}")
    if b"\x00" in data:
        raise DocumentReadError(
            path,
            "looks binary (NUL bytes), not text (疑似二进制文件): "
            "if it is UTF-16 text without a byte-order mark, save it as UTF-8",
        )

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        text = _decode_gb18030(data)
        if text is None:
            raise DocumentReadError(
                path,
                "cannot decode as UTF-8, UTF-16 or GB18030 (无法识别文件编码): "
                f"invalid UTF-8 at byte {utf8_error.start} and not readable Chinese as GB18030/GBK; "
                "save the file as UTF-8",
            ) from utf8_error
        return _checked_text(path, text, "gb18030", text_format)
    return _checked_text(path, text, "utf-8", text_format)


def _decode_with_bom(path: Path, data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise DocumentReadError(
            path,
            f"cannot decode as {name} (无法解码) although it starts with a {name} byte-order mark: "
            f"{exc.reason} at byte {exc.start}; save the file again as UTF-8",
        ) from exc


def _decode_gb18030(data: bytes) -> str | None:
    """The GB18030 reading of ``data`` if it reads like Chinese text, else None."""
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return None
    ascii_count = len(text.encode("ascii", "ignore"))
    non_ascii = len(text) - ascii_count
    if non_ascii == 0:  # cannot happen after UTF-8 failed, but stay safe
        return text
    if len(_UNLIKELY_IN_GB_TEXT.findall(text)) > _MAX_UNLIKELY_SHARE * non_ascii:
        return None
    # GB2312 encodes ASCII in one byte and each of its other characters in two.
    gb2312_count = (len(text.encode("gb2312", "ignore")) - ascii_count) // 2
    if gb2312_count >= _MIN_GB2312_SHARE * non_ascii:
        return text
    # Rare hanzi, traditional characters in GBK, or bytes of another encoding
    # that happen to decode: let charset-normalizer break the tie.
    best = from_bytes(data).best()
    if best is not None and best.encoding in _GB_ENCODINGS:
        return text
    return None


def _checked_text(path: Path, text: str, encoding: str, text_format: str) -> RawText:
    if not text:
        raise DocumentReadError(
            path, "empty file (文件为空): only a byte-order mark, no text; add the text or remove the file"
        )
    controls = len(_CONTROL.findall(text))
    if controls * 100 > len(text):
        raise DocumentReadError(
            path,
            f"looks binary (control characters), not text (疑似二进制文件): "
            f"{controls} of {len(text)} characters are control characters; check that it is a text file",
        )
    return RawText(text=text, encoding=encoding, format=text_format)


# -- .docx -----------------------------------------------------------------------------------


def _docx_text(path: Path, data: bytes) -> str:
    if data.startswith(_OLE2):
        raise DocumentReadError(
            path,
            "not a valid .docx file (不是有效的 .docx 文件): it is an old Word 97-2003 .doc "
            "or a password-protected document; save it as .docx without a password",
        )
    if not data.startswith(b"PK"):
        raise DocumentReadError(
            path,
            "not a valid .docx file (不是有效的 .docx 文件): it is not a ZIP package; "
            "open it in Word or WPS and save it as .docx",
        )
    try:
        document = docx.Document(io.BytesIO(data))
        return "\n".join(_block_lines(document))
    # python-docx lets zipfile, lxml, KeyError, ValueError, ... escape on a
    # corrupt package; all of them mean the same thing to the user.
    except Exception as exc:
        raise DocumentReadError(
            path,
            f"not a valid .docx file (不是有效的 .docx 文件): {type(exc).__name__}: {exc}; "
            "open it in Word or WPS and save it again as .docx",
        ) from exc


def _block_lines(container: DocxDocument | _Cell) -> Iterator[str]:
    """One string per paragraph and per table row, in document order."""
    for block in container.iter_inner_content():
        if isinstance(block, Paragraph):
            yield block.text
        elif isinstance(block, Table):
            yield from _table_lines(block)


def _table_lines(table: Table) -> Iterator[str]:
    for row in table.rows:
        yield "\t".join("\n".join(_block_lines(cell)) for cell in _physical_cells(row))


def _physical_cells(row: _Row) -> list[_Cell]:
    # ``row.cells`` repeats a merged cell once per grid column and per merged
    # row; read each <w:tc> once so merged text is not duplicated.
    return [_Cell(tc, row.table) for tc in row._tr.tc_lst]


# -- .pdf ------------------------------------------------------------------------------------


def _pdf_text(path: Path, data: bytes) -> str:
    reader = _open_pdf(path, data)
    try:
        pages = [page.extract_text() for page in reader.pages]
    # pypdf raises many exception types (PdfReadError, KeyError, ValueError,
    # struct.error, ...) on a damaged file; all mean the file is not readable.
    except Exception as exc:
        raise DocumentReadError(
            path,
            f"not a valid PDF file (不是有效的 PDF 文件): cannot extract text: {type(exc).__name__}: {exc}; "
            "open it and save or print it again as PDF",
        ) from exc
    if not pages:
        raise DocumentReadError(path, "PDF has no pages (PDF 没有页面): check the file")
    return "\n\n".join(pages)


def _open_pdf(path: Path, data: bytes) -> pypdf.PdfReader:
    if b"%PDF-" not in data[:1024]:
        raise DocumentReadError(
            path,
            "not a valid PDF file (不是有效的 PDF 文件): no %PDF- header; it may be a web page "
            "or another file renamed to .pdf",
        )
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        # Many published PDFs are encrypted with an empty user password
        # (owner restrictions only): those open without asking anyone.
        locked = reader.is_encrypted and not reader.decrypt("")
    except DependencyError as exc:  # AES without the optional 'cryptography' package
        raise DocumentReadError(path, f"{_ENCRYPTED_PDF} ({exc})") from exc
    except Exception as exc:  # see _pdf_text: pypdf fails in many ways on a corrupt file
        raise DocumentReadError(
            path,
            f"not a valid PDF file (不是有效的 PDF 文件): {type(exc).__name__}: {exc}; "
            "open it and save or print it again as PDF",
        ) from exc
    if locked:
        raise DocumentReadError(path, _ENCRYPTED_PDF)
    return reader
