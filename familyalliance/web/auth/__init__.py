"""The auth blueprint: its views and forms."""
