"""The admin blueprint: its views and forms."""
