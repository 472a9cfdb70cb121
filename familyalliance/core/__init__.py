"""Pure logic: no Flask, no SQLAlchemy, no database.

Plain data and DataFrames in; plain data, DataFrames and Altair charts out.
"""
