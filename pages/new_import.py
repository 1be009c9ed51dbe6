import streamlit as st

from pages.common import engine

engine()
st.title("Contact Import Console")
st.write("Coming next.")
