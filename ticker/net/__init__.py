"""Reaching other servers on a newsroom's behalf (sources, later link cards): guarded, bounded, polite."""
