"""The engine: from a plan or a script to measured, scored numbers. No model, no database."""
