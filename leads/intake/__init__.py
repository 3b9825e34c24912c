"""Intake (C3–C6, M1–M5, E3): interactions in, matching strategies, capture sources, automatic leads."""
