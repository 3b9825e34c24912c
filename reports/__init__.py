"""Reports (SPEC D1, D2): the sales and marketing dashboards, which read leads and routing together; above ``leads`` and ``routing``."""
