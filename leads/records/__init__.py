"""Records (E1, E2, C1, G1, R7): contacts, accounts and leads, who may see them, and the lead list."""
