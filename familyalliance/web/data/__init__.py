"""The data blueprint: its views and forms."""
