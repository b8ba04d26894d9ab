"""Use cases: async functions on ids and primitives. No Discord objects cross this line."""
