"""One module per dashboard page; each is run by Streamlit as the page's script."""
