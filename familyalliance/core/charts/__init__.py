"""The dashboard's charts: the tables behind them, the Altair builders, and rendering by vl-convert."""
