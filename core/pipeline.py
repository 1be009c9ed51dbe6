"""The whole flow for one file, as the CLI and scripts run it: read -> map -> validate -> commit -> attach."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from core.imports import (ImportResult, Progress, attach_to_campaign, commit_import, create_campaign,
                          create_import)
from core.mapping import Mapping, apply_mapping, suggest_mapping
from core.reading import SourceFile, read_contacts
from core.validation import ValidationReport, validate


@dataclass
class Prepared:
    source: SourceFile
    mapping: Mapping
    report: ValidationReport


def prepare(data: bytes, file_name: str, mapping: Mapping | None = None) -> Prepared:
    """Read, map (the suggested mapping unless one is given) and validate, without the database."""
    source = read_contacts(data, file_name)
    mapping = mapping or suggest_mapping(source.headers)
    report = validate(apply_mapping(source.frame, mapping))
    return Prepared(source=source, mapping=mapping, report=report)


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
