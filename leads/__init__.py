"""Leads: records, stages, scoring, qualification, matching and intake."""
