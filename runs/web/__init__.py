"""The browser UI: views, forms, what the run page shows, and the compare, test and trend pages."""
