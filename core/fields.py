"""The contact fields of the bulk-upload contract (seed/bulk-upload-contacts.md)."""

FIELDS = ("full_name", "email", "linkedin_profile", "company", "locale", "timezone", "metadata")
REQUIRED_FIELDS = ("full_name", "email", "linkedin_profile")
MAX_TEXT_LENGTH = 255

# The source row number travels with every row, from reading to import_errors and import_contacts.
ROW = "__row__"
