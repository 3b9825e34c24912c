"""The sales dashboard (SPEC D1)."""
