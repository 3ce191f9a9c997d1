"""A library's songs on one machine or a cluster: runs, sinks, resume, summary, tags and playlists."""
