"""The whole flow for one file, as the CLI and scripts run it: read -> map -> validate -> commit -> attach."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy.engine import Engine

from core.errors import MappingIncomplete
from core.fields import ROW
from core.imports import (ImportResult, Progress, attach_to_campaign, commit_import, create_campaign,
                          create_import)
from core.mapping import Mapping, apply_mapping, suggest_mapping
from core.reading import WHOLE_ROW, SourceFile, read_contacts
from core.validation import ValidationReport, validate


@dataclass
class Prepared:
    source: SourceFile
    mapping: Mapping
    report: ValidationReport


def prepare(data: bytes, file_name: str, mapping: Mapping | None = None, **read_options) -> Prepared:
    """Read, map (the suggested mapping unless one is given) and validate, without the database.

    read_options go to read_contacts (encoding, delimiter, header_row, sheet, max_bytes, max_rows).
    """
    source = read_contacts(data, file_name, **read_options)
    mapping = mapping or suggest_mapping(source.headers)
    try:
        report = validate_source(source, mapping)
    except MappingIncomplete as incomplete:  # say which file, as every file-level message does
        raise MappingIncomplete(incomplete.missing, file_name) from None
    return Prepared(source=source, mapping=mapping, report=report)


def validate_source(source: SourceFile, mapping: Mapping, frame: pd.DataFrame | None = None,
                    on_progress: Progress | None = None) -> ValidationReport:
    """Validate a read file under a mapping, with its reading problems as row errors.

    Rows with a reading problem in a mapped column (or a ragged row) are left out of the import
    and reported with row, column, reason and value next to the validation errors; problems in
    columns the mapping does not use are ignored. frame: an edited copy of source.frame.
    """
    frame = source.frame if frame is None else frame
    return validate_mapped(apply_mapping(frame, mapping), reading_errors(source, mapping), on_progress)


def validate_mapped(mapped: pd.DataFrame, problems: pd.DataFrame,
                    on_progress: Progress | None = None) -> ValidationReport:
    """Validate mapped rows; the rows named in problems (reading errors) are reported, not imported."""
    if problems.empty:  # the common case: no filtered copy of a possibly 1M-row frame
        return validate(mapped, on_progress)
    bad = mapped[ROW].isin(set(problems["row"]))
    report = validate(mapped[~bad], on_progress)
    errors = pd.concat([report.errors, problems], ignore_index=True) if not report.errors.empty \
        else problems.reset_index(drop=True)
    errors = errors.sort_values(["row", "column"], kind="stable").reset_index(drop=True)
    return ValidationReport(rows=report.rows + int(bad.sum()), valid=report.valid, errors=errors,
                            duplicates=report.duplicates)


def reading_errors(source: SourceFile, mapping: Mapping) -> pd.DataFrame:
    """The reading problems that matter under this mapping (ragged rows always do)."""
    used = {column for columns in mapping.values() for column in columns} | {WHOLE_ROW}
    errors = source.row_errors
    return errors[errors["column"].isin(used)].astype({"row": int}).reset_index(drop=True)


def import_file(engine: Engine, data: bytes, file_name: str, source_name: str,
                campaign: str | None = None, created_by: str | None = None,
                mapping: Mapping | None = None, on_progress: Progress | None = None) -> ImportResult:
    """The seed's four steps: create the import, commit the contacts, complete, attach."""
    prepared = prepare(data, file_name, mapping)
    import_id = create_import(engine, source_name, file_name, created_by)
    result = commit_import(engine, import_id, prepared.report, on_progress)
    if campaign:
        attach_to_campaign(engine, import_id, create_campaign(engine, campaign))
    return result
