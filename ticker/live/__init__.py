"""Everything about a live reader connection: from its first bytes to the frames the hub writes to it."""
