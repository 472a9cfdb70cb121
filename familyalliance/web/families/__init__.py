"""The families blueprint: its views and forms."""
