"""The config: composing it, and a user's config mistakes."""
