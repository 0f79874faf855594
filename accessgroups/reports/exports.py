"""Report files: CSV and JSON Lines streamed, XLSX through a temporary file.

Every writer takes a header and rows (lists in header order) and returns a response; none
holds more than a chunk in memory, except what openpyxl buffers on disk. The streamed files
go out in chunks of about CHUNK_CHARS: a chunk per row would be a write per row.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, StreamingHttpResponse

# A spreadsheet opening the file runs a cell that starts with one of these as a formula
# (OWASP "CSV injection"): = + - @, and tab or carriage return, which some programs skip
# before looking. A leading quote makes it text. A value that already starts with a quote
# gets one more, so that "drop one leading quote" always gives back the stored value.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")

# About 64 KB a chunk: past that, larger writes measured no faster.
CHUNK_CHARS = 64 * 1024


def neutralise(value: Any) -> Any:
    """The value as a spreadsheet shows it as text and never runs it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder)
    return neutralise(value)


class _Echo:
    """A file-like object whose write() returns the line, for streaming csv.writer."""

    def write(self, value: str) -> str:
        return value


def _attachment(response: StreamingHttpResponse, filename: str) -> StreamingHttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_response(
    header: list[str], rows: Iterable[list[Any]], filename: str
) -> StreamingHttpResponse:
    """A whole CSV file, written while it is read. Formula-like cells are neutralised."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(v) for v in row])

    return _attachment(
        StreamingHttpResponse(_chunked(lines()), content_type="text/csv; charset=utf-8"),
        filename,
    )


def _chunked(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces joined into chunks of about CHUNK_CHARS; the first piece goes at once."""
    pending: list[str] = []
    size = 0
    first = True
    for piece in pieces:
        pending.append(piece)
        size += len(piece)
        if first or size >= CHUNK_CHARS:
            yield "".join(pending)
            pending, size, first = [], 0, False
    if pending:
        yield "".join(pending)


def csv_batches_response(
    header: list[str], batches: Iterable[list[tuple[str | None, ...]]], filename: str
) -> StreamingHttpResponse:
    """A whole CSV file from batches of rows that are already text or None, and already
    neutralised (accessgroups.reports.export_rows): the same bytes as ``csv_response``
    with a csv.writer call per batch instead of a cell conversion per value."""

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        # The header and the first batch go out at once; then about CHUNK_CHARS a chunk.
        first = True
        for batch in batches:
            writer.writerows(batch)
            if first or buffer.tell() >= CHUNK_CHARS:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                first = False
        yield buffer.getvalue()

    return _attachment(
        StreamingHttpResponse(chunks(), content_type="text/csv; charset=utf-8"), filename
    )


def jsonl_batches_response(
    header: list[str], batches: Iterable[list[tuple[str | None, ...]]], filename: str
) -> StreamingHttpResponse:
    """JSON Lines from batches of rows of text or None (no encoder hook is needed, so
    json.dumps takes its C path)."""

    def chunks() -> Iterator[str]:
        dumps = json.dumps
        for batch in batches:
            yield "".join([dumps(dict(zip(header, row, strict=True))) + "\n" for row in batch])

    return _attachment(
        StreamingHttpResponse(_chunked(chunks()), content_type="application/jsonl; charset=utf-8"),
        filename,
    )


def jsonl_response(
    header: list[str],
    rows: Iterable[list[Any]],
    filename: str,
    trailer: dict[str, Any] | None = None,
) -> StreamingHttpResponse:
    """One JSON object per line, keys in header order, values as JSON types (no
    neutralising: JSON Lines is read by programs, not spreadsheets); then ``trailer``."""

    def lines() -> Iterator[str]:
        for row in rows:
            yield json.dumps(dict(zip(header, row, strict=True)), cls=DjangoJSONEncoder) + "\n"
        if trailer is not None:
            yield json.dumps(trailer) + "\n"

    return _attachment(
        StreamingHttpResponse(_chunked(lines()), content_type="application/jsonl; charset=utf-8"),
        filename,
    )


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(header: list[str], rows: Iterable[list[Any]], filename: str) -> FileResponse:
    """An XLSX workbook of one sheet, written in openpyxl's write-only mode (rows go to
    disk as they come) into a temporary file, which is then sent and closed (deleted)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("report")
    sheet.append(header)
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, datetime):
                # Times as ISO 8601 UTC text, as in CSV and JSON: Excel cannot hold a zone.
                value = value.isoformat().replace("+00:00", "Z")
            cell = WriteOnlyCell(sheet, value=_cell(value))
            if isinstance(cell.value, str):
                # openpyxl reads a string starting with "=" as a formula; a string is text.
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    # Spooled: small reports stay in memory, large ones go to disk, none stays behind.
    # FileResponse closes the file once sent; closing deletes it.
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    workbook.save(out)
    out.seek(0)
    return FileResponse(out, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)
