"""Users, teams, sessions, API tokens and the one authorization chokepoint."""
