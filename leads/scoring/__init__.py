"""Scoring and qualification on stored leads (S1–S6, Q1–Q6): models, criteria, the scoring jobs and insights."""
