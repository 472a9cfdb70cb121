"""The questionnaire blueprint: its views and forms."""
