"""The marketers' dashboard (SPEC D2): leads, marketing qualified, sales-ready and
converted per week and per source, capture source, campaign or product line;
the MQL → converted rate; the interactions that precede sales-readiness."""
