"""HTTP plumbing shared by every blueprint: page-or-fragment rendering,
security headers, CSRF, rate limiting and error pages."""
