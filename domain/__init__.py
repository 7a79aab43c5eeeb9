"""Pure domain logic: flag rules, merge planning, metric windows. No I/O here."""
