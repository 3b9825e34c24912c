"""CSV import and export (SPEC C2) as pure functions: bytes in, plain values out.

Import, step by step (the job and the preview both use it):

1. ``sniff(raw)`` detects the encoding (UTF-8 with or without BOM, UTF-16 with
   or without BOM; a file that is UTF-8 but for a few lines stays UTF-8; else
   charset-normalizer's best guess among ``ENCODINGS``, the common Western
   one first when it reads the file as well) and the delimiter (comma,
   semicolon, tab); the user may choose another encoding (``ENCODINGS``);
   it refuses, with a message a person can act on, files that are empty, too
   large, or binary (a NUL byte in the first line, many control characters).
2. ``read_headers`` / ``read_rows`` parse it: quoted newlines are fine, every
   record carries the physical line it starts on, and a ragged row, an
   oversized field, bytes that do not decode in the chosen encoding or
   unparseable text become a ``Record.problem`` instead of an exception. A header leadflow does not read (over ``MAX_COLUMNS`` columns,
   a name over ``MAX_FIELD_CHARS``, a quote left open) is refused at once,
   from a bounded start of the file.
3. ``guess_mapping`` maps headers to fields ("E-mail", "Courriel" → email),
   ``validate_mapping`` checks the user's final choice.
4. ``prepare_rows`` maps, validates (``validate_row``) and flags rows that repeat
   an earlier row of the same file (same match key) — ``PreparedRow`` is what the
   import job matches (``leads.core.matching``) and writes, or reports.

Export: ``export_csv`` and ``error_report_csv`` stream CSV text with
spreadsheet-formula injection neutralised (``neutralise_cell``).

Text is kept as text: ``<script>`` in a name stays ``<script>`` (escaping is the
renderer's job, and it autoescapes).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from charset_normalizer import from_bytes

from leads.core import fields as catalogue
from leads.core import matching, validation
from leads.core.matching import ACCOUNT, CONTACT, LEAD, is_blank

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_FIELD_CHARS = 10_000
MAX_COLUMNS = 500
# The longest header row that can pass: MAX_COLUMNS names of MAX_FIELD_CHARS,
# each quoted and followed by a delimiter or the line end. The header check
# never parses more than this, whatever the file holds.
MAX_HEADER_CHARS = MAX_COLUMNS * (MAX_FIELD_CHARS + 3)
SAMPLE_CHARS = 64 * 1024
DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


class CsvError(ValueError):
    """The file as a whole cannot be imported; the message says why and what to do."""


# --------------------------------------------------------------------------- sniffing


# The encodings a user may choose for a file (codec name → label), the detector's
# candidates besides UTF-8 and UTF-16; when several read a file as well, the
# first of this order wins (a French CP1252 file also reads as CP1250).
ENCODINGS = {
    "utf-8": "UTF-8",
    "cp1252": "CP1252 (Windows, Western Europe)",
    "iso8859-15": "ISO-8859-15 (Western Europe)",
    "iso8859-1": "ISO-8859-1 (Latin-1)",
    "cp1250": "CP1250 (Windows, Central Europe)",
    "iso8859-2": "ISO-8859-2 (Central Europe)",
    "cp1251": "CP1251 (Windows, Cyrillic)",
    "koi8-r": "KOI8-R (Cyrillic)",
    "cp1253": "CP1253 (Windows, Greek)",
    "cp1254": "CP1254 (Windows, Turkish)",
    "cp1257": "CP1257 (Windows, Baltic)",
    "cp932": "Shift-JIS (Japanese)",
    "euc_jp": "EUC-JP (Japanese)",
    "gb18030": "GB18030 (Chinese)",
    "big5": "Big5 (Chinese)",
    "euc_kr": "EUC-KR (Korean)",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
}
_SHORT = {
    "utf-16": "UTF-16",
    "latin-1": "Latin-1",
    "cp932": "Shift-JIS",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
}
_DETECTED = [name for name in ENCODINGS if not name.startswith("utf")]
DETECT_BYTES = 256 * 1024  # the lines with non-ASCII bytes the detector reads, at most
_NEAR = 0.01  # "reads the file as well": charset-normalizer's mess within this of the best
_TWO_BYTE = ("utf-16", "utf-16-le", "utf-16-be")


def encoding_label(encoding: str) -> str:
    """A short name for an encoding: "UTF-8", "CP1250", "Shift-JIS"."""
    return _SHORT.get(encoding) or ENCODINGS.get(encoding, encoding).split(" (")[0].upper()


@dataclass(frozen=True)
class Sniffed:
    """How to read a file: ``encoding`` is a codec name (``ENCODINGS``, ``utf-16``
    when the file has a UTF-16 BOM, ``latin-1`` for files detected before)."""

    encoding: str
    delimiter: str
    has_bom: bool = False

    @property
    def codec(self) -> str:
        """The Python codec that decodes the whole file, BOM included."""
        return "utf-8-sig" if self.encoding == "utf-8" and self.has_bom else self.encoding

    def describe(self) -> str:
        """``UTF-8 (BOM), semicolon-separated`` — for the preview page."""
        bom = " (BOM)" if self.has_bom else ""
        delimiter = DELIMITER_NAMES.get(self.delimiter, self.delimiter)
        return f"{encoding_label(self.encoding)}{bom}, {delimiter}-separated"


def sniff(raw: bytes, max_bytes: int = MAX_FILE_BYTES) -> Sniffed:
    """Detect encoding, BOM and delimiter of a CSV file.

    Raises ``CsvError`` for an empty, oversized or binary file."""
    _check_size(raw, max_bytes)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding, has_bom = "utf-16", True
    else:
        has_bom = raw.startswith(b"\xef\xbb\xbf")
        encoding = "utf-8" if has_bom else _utf16_without_bom(raw)
        if encoding is None:
            if b"\x00" in raw.split(b"\n", 1)[0] or _looks_binary(raw[:SAMPLE_CHARS]):
                raise CsvError(_BINARY)
            encoding = detect_encoding(raw)
    return with_encoding(raw, encoding, has_bom)


def with_encoding(
    raw: bytes, encoding: str, has_bom: bool | None = None, delimiter: str | None = None
) -> Sniffed:
    """How to read ``raw`` in ``encoding`` (the user's choice, or the detected
    one): its delimiter guessed unless given; ``CsvError`` for a binary file or
    an unknown encoding."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise CsvError(f"Unknown encoding {encoding!r}.") from None
    if has_bom is None:
        has_bom = (encoding == "utf-8" and raw.startswith(b"\xef\xbb\xbf")) or (
            encoding == "utf-16" and raw.startswith((b"\xff\xfe", b"\xfe\xff"))
        )
    text, _bad = decode_noting(raw, Sniffed(encoding, ",", has_bom))
    sample = _sample(text)
    _check_text(sample)
    return Sniffed(encoding, delimiter or _guess_delimiter(sample), has_bom)


_BINARY = (
    "This is not a CSV text file (it contains binary data). "
    "Export the sheet as CSV (UTF-8) from your spreadsheet and upload that file."
)


def _check_size(raw: bytes, max_bytes: int) -> None:
    if not raw.strip():
        raise CsvError("The file is empty.")
    if len(raw) > max_bytes:
        raise CsvError(
            f"The file is {len(raw) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
            "Split it into smaller files."
        )


def _utf16_without_bom(raw: bytes) -> str | None:
    """``utf-16-le`` / ``-be`` for a file whose every other byte is mostly NUL
    (text in UTF-16 without a BOM: its ASCII characters), else None."""
    head = raw[:4096]
    head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    half = len(head) // 2
    even, odd = head[0::2].count(0), head[1::2].count(0)
    for nuls, others, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if nuls >= 0.3 * half and others <= 0.02 * half:
            try:
                head.decode(encoding)
            except UnicodeDecodeError:
                return None
            return encoding
    return None


def detect_encoding(raw: bytes) -> str:
    """The encoding of a file without a BOM: UTF-8 when it is valid UTF-8, or
    when its lines that read as UTF-8 with accents are no fewer than those that
    do not (a UTF-8 file with a few CP1252 rows is UTF-8, those rows reported);
    else charset-normalizer's best candidate among ``ENCODINGS``, read from the
    lines with non-ASCII bytes, the earliest of ``ENCODINGS`` among those that
    read them as well."""
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    utf8, other, foreign, kept = 0, 0, [], 0
    for line in raw.splitlines():
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            other += 1
        if kept < DETECT_BYTES:
            foreign.append(line)
            kept += len(line) + 1
    if utf8 and utf8 >= other:
        return "utf-8"
    matches = list(from_bytes(b"\n".join(foreign), cp_isolation=_DETECTED))
    if not matches:
        return "cp1252" if _decodes(raw, "cp1252") else "latin-1"
    best = min(match.chaos for match in matches)
    # A match stands for every encoding that reads the text the same (``could_be_from_charset``).
    near = {
        codecs.lookup(name).name
        for match in matches
        if match.chaos <= best + _NEAR
        for name in match.could_be_from_charset
    }
    return next(name for name in ENCODINGS if codecs.lookup(name).name in near)


_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _looks_binary(head: bytes) -> bool:
    """Control bytes in more than a few places of the file's start (as
    ``_check_text`` counts them in the text), before any costly detection."""
    return len(_CONTROL_BYTES.findall(head)) > max(8, len(head) // 200)


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _sample(text: str) -> str:
    if len(text) <= SAMPLE_CHARS:
        return text
    cut = text[:SAMPLE_CHARS]
    return cut[: cut.rfind("\n") + 1] or cut


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_text(sample: str) -> None:
    """Refuse a binary file: a NUL before the first line break (binary formats
    such as xlsx have them in their first bytes; a CSV header never does), or
    control characters in more than a few places. A NUL further down only
    refuses its own row (``validate_row``)."""
    controls = len(_CONTROL.findall(sample))
    if "\x00" in sample.split("\n", 1)[0] or controls > max(8, len(sample) // 200):
        raise CsvError(_BINARY)


def _guess_delimiter(sample: str) -> str:
    """The delimiter that splits the header into most columns while keeping the
    following rows the same width (quotes respected); comma when in doubt."""
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [len(r) for r in itertools.islice(_reader(sample, delimiter), 50) if any(r)]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(w == widths[0] for w in widths) / len(widths)
        score = (round(consistent, 2), widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _reader(text: str, delimiter: str):
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def decode(raw: bytes, sniffed: Sniffed, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The file's text (BOM removed); what does not decode as sniffed reads as
    U+FFFD (``decode_noting`` says where)."""
    return decode_noting(raw, sniffed, max_bytes)[0]


def decode_noting(raw: bytes, sniffed: Sniffed, max_bytes: int = MAX_FILE_BYTES) -> tuple[str, list[int]]:
    """The file's text (BOM removed) and the offsets in it of the lines that do
    not decode in the sniffed encoding (their bad bytes read as U+FFFD), so that
    each such row is reported instead of the whole file refused or garbled."""
    _check_size(raw, max_bytes)
    try:
        return raw.decode(sniffed.codec).removeprefix("\ufeff"), []
    except UnicodeDecodeError:
        pass
    except LookupError:
        raise CsvError(f"Unknown encoding {sniffed.encoding!r}.") from None
    if sniffed.encoding in _TWO_BYTE:  # a line break is two bytes: no splitting on bytes
        text = raw.decode(sniffed.codec, "replace").removeprefix("\ufeff")
        return text, [match.start() for match in re.finditer("\ufffd", text)]
    parts, bad, offset = [], [], 0
    base = codecs.lookup(sniffed.codec).name
    for number, line in enumerate(raw.splitlines(keepends=True)):
        codec = sniffed.codec if number == 0 else base
        try:
            part = line.decode(codec)
        except UnicodeDecodeError:
            part = line.decode(codec, "replace")
            bad.append(offset)
        if number == 0 and part.startswith("\ufeff"):
            part = part[1:]
        parts.append(part)
        offset += len(part)
    return "".join(parts), bad


# --------------------------------------------------------------------------- reading


class Record(NamedTuple):
    """One data row: the physical ``line`` it starts on, its ``values`` by header,
    and a ``problem`` (ragged, oversized, unreadable) when it cannot be used."""

    line: int
    values: dict[str, str]
    problem: str | None = None


EXTRA_VALUES = "(extra values)"


def read_headers(raw: bytes, sniffed: Sniffed) -> list[str]:
    """The header row, cleaned (trimmed; blanks named "Column N"; repeats numbered).

    Only the start of the file is decoded and parsed, at most ``MAX_HEADER_CHARS``
    (the longest header that can pass), so a hostile file costs no more than a
    valid one. Raises ``CsvError`` when the file has no header row or one that
    cannot be imported: more than ``MAX_COLUMNS`` columns, a column name over
    ``MAX_FIELD_CHARS`` characters, or a quote never closed."""
    _check_size(raw, MAX_FILE_BYTES)
    head = _decode_head(raw, sniffed, MAX_HEADER_CHARS + 1)
    fields = _header_fields(head[:MAX_HEADER_CHARS], sniffed.delimiter, cut=len(head) > MAX_HEADER_CHARS)
    if any("\x00" in field for field in fields):
        raise CsvError(_BINARY)  # a NUL further down is that row's problem, not the file's
    return clean_headers(fields)


def _decode_head(raw: bytes, sniffed: Sniffed, chars: int) -> str:
    """The first ``chars`` characters of the file (BOM removed); a character cut
    in half at the end of the bytes read is left for the decoder to drop."""
    try:
        decoder = codecs.getincrementaldecoder(sniffed.codec)("replace")
    except LookupError:
        raise CsvError(f"Unknown encoding {sniffed.encoding!r}.") from None
    text = decoder.decode(raw[: chars * 4 + 4])  # no codec here takes over 4 bytes a character
    return text.removeprefix("\ufeff")[:chars]


def _header_fields(head: str, delimiter: str, cut: bool) -> list[str]:
    """The first non-blank record of ``head``, checked (``_check_header``);
    ``cut`` says the file goes on after ``head``."""
    buffer = io.StringIO(head, newline="")
    reader = csv.reader(buffer, delimiter=delimiter)
    fields: list[str] = []
    while not any(f.strip() for f in fields):
        start, first_line = buffer.tell(), reader.line_num
        try:
            fields = next(reader)
        except StopIteration:
            raise CsvError("The file has no header row.") from None
        except csv.Error as error:
            raise CsvError(_unreadable_header(error, spans_lines=reader.line_num > first_line + 1)) from None
    ends_file = buffer.tell() >= len(head)
    open_quote = ends_file and (cut or _never_closed(head[start:], delimiter, fields))
    _check_header(fields, open_quote, cut=cut and ends_file)
    return fields


_OPEN_QUOTE = (
    "A quote in the header row is not closed on its line, so the rows below would be read "
    "as a column name. Close the quote (or remove it) and upload the file again."
)


def _check_header(fields: list[str], open_quote: bool, cut: bool) -> None:
    """Refuse a header leadflow does not read, saying what is wrong in plain words."""
    spans_lines = any("\n" in f or "\r" in f for f in fields)
    if spans_lines and open_quote:
        raise CsvError(_OPEN_QUOTE)
    if len(fields) > MAX_COLUMNS:
        more = "more than " if cut else ""
        raise CsvError(
            f"This file has {more}{len(fields):,} columns; leadflow reads at most {MAX_COLUMNS:,}. "
            "Keep only the columns you import and upload it again."
        )
    for number, name in enumerate(fields, start=1):
        if len(name) > MAX_FIELD_CHARS:
            if "\n" in name or "\r" in name:
                raise CsvError(_OPEN_QUOTE)
            raise CsvError(
                f"Column {number:,} of the header row is {len(name):,} characters long; "
                f"leadflow reads at most {MAX_FIELD_CHARS:,} in a column name."
            )
    if cut:  # only quotes doubled all along get a header this long past the checks above
        raise CsvError(
            f"The header row is over {MAX_HEADER_CHARS:,} characters long; leadflow reads no more."
        )


def _unreadable_header(error: csv.Error, spans_lines: bool) -> str:
    if "field larger than field limit" not in str(error):
        return f"The header row cannot be read ({error})."
    if spans_lines:
        return _OPEN_QUOTE
    return (
        f"A column name in the header row is over {csv.field_size_limit():,} characters long; "
        f"leadflow reads at most {MAX_FIELD_CHARS:,} in a column name."
    )


def read_rows(raw: bytes, sniffed: Sniffed, max_field_chars: int = MAX_FIELD_CHARS) -> Iterator[Record]:
    """The data rows after the header, blank rows skipped, as ``Record``s.

    Never raises for a bad row: a row with more or fewer values than the header,
    or a value over ``max_field_chars``, comes with a ``problem``. Text the CSV
    parser cannot get past ends the iteration with one last ``Record`` saying so."""
    headers = None
    text, bad = decode_noting(raw, sniffed)
    bad_at = iter(bad)
    next_bad = next(bad_at, None)
    for line, fields, end in _physical_records(text, sniffed.delimiter):
        if isinstance(fields, csv.Error):
            yield Record(line, {}, f"The file cannot be read from this line on ({fields}).")
            return
        garbled = False
        while next_bad is not None and next_bad < end:
            garbled, next_bad = True, next(bad_at, None)
        if headers is None:
            headers = clean_headers(fields)
        elif garbled:
            values = dict(zip(headers, fields, strict=False))
            yield Record(line, values, _undecodable(sniffed))
        else:
            yield _record(line, headers, fields, max_field_chars)


def _undecodable(sniffed: Sniffed) -> str:
    return (
        f"This row is not valid {encoding_label(sniffed.encoding)} text: some characters cannot be read. "
        "Fix the row, or choose the file's encoding on the mapping page."
    )


def undecodable_lines(raw: bytes, sniffed: Sniffed, limit: int = 20) -> tuple[int, list[int]]:
    """How many rows do not decode in the sniffed encoding, and the first
    ``limit`` of their lines (for the mapping page to say so before the import)."""
    count, lines = 0, []
    for record in read_rows(raw, sniffed):
        if record.problem and record.problem.startswith("This row is not valid"):
            count += 1
            if len(lines) < limit:
                lines.append(record.line)
    return count, lines


def _physical_records(text: str, delimiter: str) -> Iterator[tuple[int, list[str] | csv.Error, int]]:
    """``(line the record starts on, fields, offset just after it)``, skipping
    blank records; a parse error is yielded once as the fields and stops; a
    binary file (``_check_text``) raises ``CsvError`` before any parsing."""
    _check_text(_sample(text))
    buffer = io.StringIO(text, newline="")
    reader = csv.reader(buffer, delimiter=delimiter)
    while True:
        line, start = reader.line_num + 1, buffer.tell()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield line, error, len(text)
            return
        end = buffer.tell()
        if end >= len(text) and _never_closed(text[start:], delimiter, fields):
            yield line, csv.Error("a quoted value is never closed"), end
            return
        if any(f.strip() for f in fields):
            yield line, fields, end


def _never_closed(tail: str, delimiter: str, fields: list[str]) -> bool:
    """True when the file's last record is a quote left open up to the end of the
    file (the lenient parser would quietly swallow the remaining lines)."""
    if not any("\n" in f or "\r" in f for f in fields):
        return False
    try:
        for _ in csv.reader(io.StringIO(tail, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def clean_headers(fields: Sequence[str]) -> list[str]:
    """Header names trimmed; a blank one becomes "Column N", a repeat "Name (2)"."""
    headers, seen = [], set()
    for number, name in enumerate(fields, start=1):
        name = " ".join(name.replace("\ufeff", "").split()) or f"Column {number}"
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name} ({n})"
        seen.add(unique)
        headers.append(unique)
    return headers


def _record(line: int, headers: list[str], fields: list[str], max_chars: int) -> Record:
    width = len(headers)
    values = dict(zip(headers, fields, strict=False))
    extra = [f for f in fields[width:] if f.strip()]
    if extra:
        values[EXTRA_VALUES] = " | ".join(extra)
        return Record(line, values, f"This row has {len(fields)} values; the header has {width} columns.")
    if len(fields) < width:
        return Record(line, values, f"This row has {len(fields)} values; the header has {width} columns.")
    for header, value in values.items():
        if len(value) > max_chars:
            values[header] = value[:100] + "…"
            return Record(
                line, values, f"{header}: {len(value)} characters is over the limit of {max_chars}."
            )
    return Record(line, values)


# --------------------------------------------------------------------------- mapping

FULL_NAME = catalogue.FULL_NAME.name
# The fields an import can fill, per entity: the catalogue's fields with CSV
# header spellings (``leads.core.fields``). ``full_name`` is split into first
# and last name; a contact's ``company`` names its account.
_IMPORTABLE = {entity: catalogue.importable(entity) for entity in (CONTACT, LEAD, ACCOUNT)}
IMPORT_FIELDS = {entity: catalogue.names(specs) for entity, specs in _IMPORTABLE.items()}
FIELD_LABELS = {spec.name: spec.import_label for specs in _IMPORTABLE.values() for spec in specs}
# The catalogue's lengths, which a test keeps equal to the columns' in
# leads/records/models.py; a contact's company is its account's name.
MAX_LENGTHS = {
    entity: {spec.name: spec.max_length for spec in specs if spec.max_length}
    for entity, specs in _IMPORTABLE.items()
}
# Without these a row cannot be written or matched on the default strategy (M2):
# a contact or lead without email would be created again by every re-run. A
# lead's topic usually comes from the import's ``defaults``.
REQUIRED = {CONTACT: ("email",), LEAD: ("topic", "email"), ACCOUNT: ("name",)}


def _synonyms(entity: str) -> dict[str, tuple[str, ...]]:
    """Header spellings per field, compared after ``_header_key`` (accents, case,
    spaces and punctuation removed)."""
    return {spec.name: spec.csv for spec in _IMPORTABLE[entity]}


def _header_key(header: str) -> str:
    decomposed = unicodedata.normalize("NFKD", header.casefold())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


def guess_mapping(headers: Sequence[str], entity: str) -> dict[str, str | None]:
    """A first guess of header → field for ``entity`` (``None``: not imported).

    Exact spellings win ("E-mail", "Email address", "Courriel" → email), then a
    header ending in a known spelling ("Contact email" → email). Each field is
    given to one header at most, the first that claims it."""
    synonyms = _synonyms(entity)
    keys = {h: _header_key(h) for h in headers}
    mapping: dict[str, str | None] = dict.fromkeys(headers)
    taken: set[str] = set()
    for exact in (True, False):
        for header in headers:
            if mapping[header] is not None:
                continue
            for target, spellings in synonyms.items():
                if target not in taken and _claims(keys[header], spellings, exact):
                    mapping[header] = target
                    taken.add(target)
                    break
    return mapping


def _claims(key: str, spellings: tuple[str, ...], exact: bool) -> bool:
    if exact:
        return key in spellings
    # Short spellings ("tel", "nom") would claim "Hotel" or "Renom": suffixes need four letters.
    return any(len(s) >= 4 and key.endswith(s) for s in spellings)


def validate_mapping(
    mapping: Mapping[str, str | None],
    entity: str,
    defaults: Mapping | None = None,
    required: Sequence[str] | None = None,
) -> list[str]:
    """What is wrong with a header → field mapping (empty when it can be imported):
    unknown fields, a field mapped twice, a required field neither mapped nor
    given a default."""
    errors = []
    targets = [f for f in mapping.values() if f]
    for target in dict.fromkeys(targets):
        if target not in IMPORT_FIELDS[entity]:
            errors.append(f"{target!r} is not a {entity} field.")
        elif targets.count(target) > 1:
            errors.append(f"Several columns are mapped to {FIELD_LABELS[target]}; keep one.")
    provided = set(targets) | set(defaults or ())
    if FULL_NAME in provided:
        provided |= {"first_name", "last_name"}
    for name in REQUIRED[entity] if required is None else required:
        if name not in provided:
            errors.append(f"Map a column to {FIELD_LABELS.get(name, name)} (required).")
    return errors


def apply_mapping(values: Mapping[str, str], mapping: Mapping[str, str | None]) -> dict[str, str]:
    """A row's values by field instead of by header (unmapped columns dropped)."""
    return {target: values.get(header, "") for header, target in mapping.items() if target}


_PARTICLES = {"van", "von", "de", "der", "den", "du", "da", "di", "del", "della", "dos", "das", "le", "la"}
_PARTICLES |= {"ten", "ter", "bin", "al", "st", "st."}


def split_full_name(text: str) -> tuple[str, str]:
    """``(first, last)`` from a full name: "Ada Lovelace", "Lovelace, Ada",
    "Anna van der Berg" (particles stay with the last name). One word is a first name."""
    if "," in text:
        last, _, first = text.partition(",")
        return " ".join(first.split()), " ".join(last.split())
    words = text.split()
    if len(words) < 2:
        return (words[0] if words else ""), ""
    cut = len(words) - 1
    for i in range(1, len(words) - 1):
        if words[i].casefold() in _PARTICLES:
            cut = i
            break
    return " ".join(words[:cut]), " ".join(words[cut:])


# --------------------------------------------------------------------------- validating

_DOMAIN = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}|(?:[^\W_](?:[\w-]*[^\W_])?\.)+xn--[\w-]+")
_INTEGER = re.compile(r"\d{1,3}(?:([ ,.'\u00a0\u202f])\d{3})?(?:\1\d{3})*|\d+")


def _check_email(value: str, row: Mapping, region: str | None) -> tuple[str | None, str | None]:
    return validation.check_email(value)


def _check_phone(value: str, row: Mapping, region: str | None) -> tuple[str | None, str | None]:
    country = matching.normalise_country(row.get("country"))
    result = matching.normalise_phone(value, country if country in validation.COUNTRIES else region)
    return result.value, result.reason


def _check_country(value: str, row: Mapping, region: str | None) -> tuple[str | None, str | None]:
    return validation.check_country(value)


def _check_domain(value: str, row: Mapping, region: str | None) -> tuple[str | None, str | None]:
    domain = matching.normalise_domain(value)
    if not domain or not _DOMAIN.fullmatch(domain):
        return None, "not a web domain (e.g. example.com)"
    return domain, None


def _check_integer(maximum: int | None):
    """A check for a whole number up to ``maximum`` (None: any); ``1 200``, ``1,200`` and
    ``1.200`` are read as thousands groups (1200), a decimal like ``12.5`` is refused."""

    def check(value: str, row: Mapping, region: str | None) -> tuple[int | None, str | None]:
        text = value.strip()
        if not _INTEGER.fullmatch(text):
            return None, "not a whole number"
        number = int(re.sub(r"\D", "", text))
        if maximum is not None and number > maximum:
            return None, "too large"
        return number, None

    return check


_FORMAT_CHECKS = {
    catalogue.EMAIL: _check_email,
    catalogue.PHONE: _check_phone,
    catalogue.COUNTRY: _check_country,
    catalogue.DOMAIN: _check_domain,
}


def _check_for(spec: catalogue.Field):
    """How an imported value of ``spec`` is checked and cleaned (None: as text)."""
    if spec.format in _FORMAT_CHECKS:
        return _FORMAT_CHECKS[spec.format]
    if spec.type == catalogue.NUMBER:
        return _check_integer(spec.maximum)
    return None


_CHECKS = {
    (entity, spec.name): check
    for entity, specs in _IMPORTABLE.items()
    for spec in specs
    if (check := _check_for(spec)) is not None
}


def validate_row(
    mapped: Mapping[str, str],
    entity: str,
    default_region: str | None = None,
    defaults: Mapping | None = None,
    required: Sequence[str] | None = None,
) -> tuple[dict, list[tuple[str, str]]]:
    """Check one row (values by field) for ``entity``.

    Returns ``(clean, errors)``: ``clean`` holds the non-blank fields, trimmed,
    with whitespace collapsed, a phone in E.164 (read with the row's country,
    else ``default_region``), a country upper-cased, a domain bare, counts as
    ints, ``full_name`` split, and ``defaults`` for what the row leaves blank;
    ``errors`` lists ``(field, reason)``. Text is kept as typed (no HTML stripping)."""
    row = {k: " ".join(v.split()) if isinstance(v, str) else v for k, v in mapped.items() if not is_blank(v)}
    if FULL_NAME in row:
        first, last = split_full_name(row.pop(FULL_NAME))
        for name, part in (("first_name", first), ("last_name", last)):
            if part:
                row.setdefault(name, part)
    clean = {k: v for k, v in (defaults or {}).items() if not is_blank(v)}
    errors: list[tuple[str, str]] = []
    for name, value in row.items():
        value, reason = _check_value(entity, name, value, row, default_region)
        if reason:
            errors.append((name, reason))
        else:
            clean[name] = value
    failed = {name for name, _ in errors}
    for name in REQUIRED[entity] if required is None else required:
        if name not in clean and name not in failed:
            errors.append((name, "required"))
    return clean, errors


def _check_value(
    entity: str, name: str, value, row: Mapping, region: str | None
) -> tuple[object, str | None]:
    """One field's clean value, or ``(None, reason)``."""
    if name not in IMPORT_FIELDS[entity]:
        return None, f"not a {entity} field"
    if not isinstance(value, str):
        return None, "not text"
    if validation.has_nul(value):
        return None, validation.NUL_REASON
    if _CONTROL.search(value):
        return None, "contains control characters"
    check = _CHECKS.get((entity, name))
    if check is not None:
        value, reason = check(value, row, region)
        if reason:
            return None, reason
    limit = MAX_LENGTHS[entity].get(name)
    if limit is not None and len(str(value)) > limit:
        return None, f"longer than {limit} characters"
    return value, None


# --------------------------------------------------------------------------- preparing an import


@dataclass(frozen=True)
class PreparedRow:
    """A data row ready for the import job: ``clean`` values to match and write
    when ``ok``; otherwise ``errors`` as ``(field or "", reason)`` for the report.
    ``values`` are the original cells, by header."""

    line: int
    values: dict[str, str]
    clean: dict = field(default_factory=dict)
    errors: tuple[tuple[str, str], ...] = ()
    duplicate_of: int | None = None

    @property
    def ok(self) -> bool:
        """True when the row can be written."""
        return not self.errors


class DuplicateRows:
    """Rows of one file that repeat an earlier row: same match key under any of
    ``strategies`` (C2: a file that lists a person twice creates them once)."""

    def __init__(self, strategies: Sequence[matching.MatchingStrategy], default_region: str | None = None):
        self.strategies = tuple(strategies)
        self.default_region = default_region
        self._index = matching.InMemoryIndex(default_region)

    def check(self, line: int, clean: Mapping) -> tuple[int, str] | None:
        """``(earlier line, reason)`` when ``clean`` repeats an earlier row;
        otherwise remember it under ``line`` and return ``None``."""
        keys = [(s, matching.match_key(s, clean, self.default_region)) for s in self.strategies]
        for strategy, key in keys:
            earlier = self._index.lookup(strategy, key) if key is not None else []
            if earlier:
                return earlier[0], f"duplicate of line {earlier[0]} (same {strategy.describe()})"
        for strategy, key in keys:
            if key is not None:
                self._index.add_key(strategy, key, line)
        return None


def prepare_rows(
    records: Iterable[Record],
    mapping: Mapping[str, str | None],
    entity: str,
    strategies: Sequence[matching.MatchingStrategy] = (),
    default_region: str | None = None,
    defaults: Mapping | None = None,
    required: Sequence[str] | None = None,
) -> Iterator[PreparedRow]:
    """Map, validate and de-duplicate ``records`` (from ``read_rows``) for ``entity``.

    ``strategies`` (default: ``matching.IMPORT_CHAINS[entity]``) decide what counts
    as a duplicate inside the file; ``defaults`` fill blanks (e.g. a lead's topic
    and ``source``, which takes part in the lead's match key)."""
    duplicates = DuplicateRows(strategies or matching.IMPORT_CHAINS[entity], default_region)
    for record in records:
        if record.problem:
            yield PreparedRow(record.line, record.values, errors=(("", record.problem),))
            continue
        clean, errors = validate_row(
            apply_mapping(record.values, mapping), entity, default_region, defaults, required
        )
        if errors:
            yield PreparedRow(record.line, record.values, clean, tuple(errors))
            continue
        repeat = duplicates.check(record.line, clean)
        if repeat:
            yield PreparedRow(record.line, record.values, clean, (("", repeat[1]),), duplicate_of=repeat[0])
        else:
            yield PreparedRow(record.line, record.values, clean)


# --------------------------------------------------------------------------- export

# OWASP "CSV Injection": a cell starting with one of these is read as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-\d+(?:\.\d+)?")


def neutralise_cell(value: object) -> str:
    """A value as CSV cell text that no spreadsheet runs as a formula.

    Following OWASP, text starting with ``= + - @``, tab or carriage return
    (also after leading whitespace, which some spreadsheets trim) gets a leading
    apostrophe. The one exception: a plain negative number such as ``-12.5``
    stays as it is — it cannot carry a formula and prefixing it would turn
    numbers into text. A phone in E.164 (``+33…``) is prefixed like any text."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ", timespec="seconds")
    else:
        text = str(value)
    if not text or _PLAIN_NUMBER.fullmatch(text):
        return text
    if text[0] in FORMULA_TRIGGERS or text.lstrip()[:1] in FORMULA_TRIGGERS:
        return "'" + text
    return text


def _csv_lines(header: Sequence[str], rows: Iterable[Sequence], delimiter: str, bom: bool) -> Iterator[str]:
    """CSV text line by line, every cell quoted and neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    prefix = "\ufeff" if bom else ""
    for row in itertools.chain([header], rows):
        writer.writerow([neutralise_cell(v) for v in row])
        yield prefix + buffer.getvalue()
        prefix = ""
        buffer.seek(0)
        buffer.truncate()


def export_csv(
    rows: Iterable[Mapping],
    columns: Sequence[str | tuple[str, str]],
    delimiter: str = ",",
    bom: bool = True,
) -> Iterator[str]:
    """Stream ``rows`` as CSV text, one line per chunk (for a streamed response).

    ``columns`` are keys, or ``(key, header)`` pairs. Cells are neutralised
    against formula injection (``neutralise_cell``) and quoted; the UTF-8 BOM
    (``bom``) makes Excel read accents right."""
    pairs = [(c, c) if isinstance(c, str) else c for c in columns]
    header = [label for _key, label in pairs]
    body = ([row.get(key) for key, _label in pairs] for row in rows)
    return _csv_lines(header, body, delimiter, bom)


@dataclass(frozen=True)
class RowError:
    """One line of an import's error report."""

    line: int
    field: str
    reason: str
    values: Mapping[str, str] = field(default_factory=dict)


def row_errors(row: PreparedRow) -> list[RowError]:
    """The report lines of a rejected ``PreparedRow`` (one per error)."""
    return [RowError(row.line, name, reason, row.values) for name, reason in row.errors]


def error_report_csv(errors: Iterable[RowError], headers: Sequence[str], bom: bool = True) -> Iterator[str]:
    """Stream the error report: line, field, reason, then the row's original
    values under the file's own headers (neutralised like any export)."""
    columns = ["Line", "Field", "Reason", *headers]
    body = (
        [error.line, FIELD_LABELS.get(error.field, error.field), error.reason]
        + [error.values.get(h, "") for h in headers]
        for error in errors
    )
    return _csv_lines(columns, body, ",", bom)
