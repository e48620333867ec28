"""Text in, token ids out: reading a corpus (in a format the registry above chooses), vocabularies,
the token cache, and the batches training reads. Nothing here knows of music."""
