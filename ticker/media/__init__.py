"""Media: photos (decode, strip, variants: images.py), their storage (storage.py) and link cards."""
