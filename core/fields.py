"""The contact fields of the bulk-upload contract (seed/bulk-upload-contacts.md)."""

FIELDS = ("full_name", "email", "linkedin_profile", "company", "locale", "timezone", "metadata")
REQUIRED_FIELDS = ("full_name", "email", "linkedin_profile")
MAX_TEXT_LENGTH = 255

# The source row number travels with every row, from reading to import_errors and import_contacts.
ROW = "__row__"

# What the console calls each field: people read "LinkedIn profile", scripts and the API use the
# contract's names.
FIELD_LABELS = {"full_name": "Full name", "email": "Email", "linkedin_profile": "LinkedIn profile",
                "company": "Company", "locale": "Language", "timezone": "Time zone", "metadata": "Extra fields"}


def field_label(name: str) -> str:
    """A field's name for people; anything else (a column of the file) as it is."""
    return FIELD_LABELS.get(name, name)
