"""Reports (SPEC D): dashboards read from the domain's tables; above ``leads`` and ``routing``."""
