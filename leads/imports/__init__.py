"""CSV import and export (C2)."""
