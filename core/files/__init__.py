"""Bytes -> rows: reading files (CSV, TSV, JSON, XLSX) within bounds, and writing formula-safe CSV."""
