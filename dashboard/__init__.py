"""driftgate's governance dashboard: a Streamlit app that talks to the API over HTTP only."""
