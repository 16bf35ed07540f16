"""Reading user data: tables from arrays, DataFrames, CSV and Parquet files."""

from deepad.io.tables import as_table, read_table

__all__ = ["as_table", "read_table"]
