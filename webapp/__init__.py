"""The Streamlit app's parts (``streamlit_app.py`` lays them out); the only code that imports streamlit."""
