"""Rows: mapping columns to fields, validation, fixes, the same person under two emails, counts and the
error file. No database."""
