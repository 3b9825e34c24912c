"""The lead's business process on stored leads (P1–P8): stage actions, the lead page, the qualification fields."""
