"""The browser UI: views, forms, and what the run page shows."""
