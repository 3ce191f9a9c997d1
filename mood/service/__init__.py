"""What a running app needs besides its widgets: the song pipeline (decode once, every model, the
descriptors), the occlusion map of where a model heard its answer, playlist runs and the
analysis queue that keeps a server's listeners in line. Plain Python, no Streamlit."""
