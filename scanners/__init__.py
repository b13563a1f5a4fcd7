"""Analyzers of a run's target: security headers, SSL/TLS, page test, Lighthouse."""

# The analyzer kinds, in the order results are shown. Other apps validate choices against this.
KINDS = ("headers", "tls", "pagetest", "lighthouse")
