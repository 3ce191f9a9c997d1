"""The presentation wing: what the app and reports draw and say (`analysis`, `charts`,
`report`, `model_card`, `demo`). It imports the engine, never Streamlit."""
