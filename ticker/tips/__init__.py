"""Readers' tips and questions ("Tipsa redaktionen", "Fråga reportern"): a plain form on the reader pages, no
account and no cookie; the editors' queue on the desk, live; an answer published as an entry; personal data kept
only ``TICKER_TIPS_KEEP_DAYS`` (docs/reader.md, "Tips and questions")."""
