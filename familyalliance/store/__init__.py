"""The database: models, bulk writes, reading answers into DataFrames, stored summaries. Imports only ``core``."""
