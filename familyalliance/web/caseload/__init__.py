"""The caseload blueprint: its views and forms."""
