"""The exception family of mood. Every message is written for the person using the app:
what went wrong and what to do about it."""


class MoodError(Exception):
    """Base of every error mood raises on purpose; its message is safe to show a user."""


class AudioError(MoodError):
    """The audio could not be decoded or is not fit for analysis (silent, too short, ...)."""


class ModelError(MoodError):
    """A model's weights or manifest are missing, corrupt or do not match."""


class SourceError(MoodError):
    """A song search, preview lookup or download failed."""
