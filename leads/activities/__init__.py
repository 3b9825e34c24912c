"""Activities on the lead (W1): notes, logged calls and tasks, and the lead's one timeline."""
