"""Lists that act on many leads (W5): the lead list's column chooser, bulk
actions on a selection (explicit or "all matching") and saved views."""
