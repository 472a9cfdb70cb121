"""The ratings blueprint: its views and forms."""
