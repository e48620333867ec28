"""Folk tunes in ABC notation: reading, checking and exporting them."""
