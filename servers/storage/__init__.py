"""MySQL storage: the schema, its migrations and the engine every server shares."""
