"""Mapping suggestions for the exports people really have (issue 5)."""
from __future__ import annotations

import pytest

from core.rows.mapping import suggest_mapping

EXPORTS = {
    "LinkedIn Connections.csv": (
        ["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"],
        {"full_name": ["First Name", "Last Name"], "email": ["Email Address"], "linkedin_profile": ["URL"],
         "company": ["Company"]}),
    "HubSpot contacts": (
        ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Company Name", "LinkedIn URL",
         "Preferred language", "Time Zone", "Lifecycle Stage", "Contact owner"],
        {"full_name": ["First Name", "Last Name"], "email": ["Email"], "linkedin_profile": ["LinkedIn URL"],
         "company": ["Company Name"], "locale": ["Preferred language"], "timezone": ["Time Zone"]}),
    "Salesforce report": (
        ["First Name", "Last Name", "Title", "Account Name", "Email", "Mailing Country", "LinkedIn Profile"],
        {"full_name": ["First Name", "Last Name"], "email": ["Email"], "company": ["Account Name"],
         "linkedin_profile": ["LinkedIn Profile"]}),
    "Salesforce Data Loader": (
        ["ID", "FIRSTNAME", "LASTNAME", "EMAIL", "ACCOUNT.NAME", "LINKEDIN_PROFILE__C"],
        {"full_name": ["FIRSTNAME", "LASTNAME"], "email": ["EMAIL"], "company": ["ACCOUNT.NAME"],
         "linkedin_profile": ["LINKEDIN_PROFILE__C"]}),
    "Apollo": (
        ["First Name", "Last Name", "Title", "Company", "Company Name for Emails", "Email", "Email Status",
         "Person Linkedin Url", "Company Linkedin Url", "Website", "City"],
        {"full_name": ["First Name", "Last Name"], "email": ["Email"], "linkedin_profile": ["Person Linkedin Url"],
         "company": ["Company"]}),
    "Google Contacts": (
        ["First Name", "Middle Name", "Last Name", "Nickname", "E-mail 1 - Label", "E-mail 1 - Value",
         "Phone 1 - Value", "Organization Name", "Organization Title"],
        {"full_name": ["First Name", "Middle Name", "Last Name"], "email": ["E-mail 1 - Value"],
         "company": ["Organization Name"]}),
    "Google Contacts (older)": (
        ["Name", "Given Name", "Additional Name", "Family Name", "E-mail 1 - Type", "E-mail 1 - Value",
         "Organization 1 - Name"],
        {"full_name": ["Name"], "email": ["E-mail 1 - Value"], "company": ["Organization 1 - Name"]}),
    "Outlook": (
        ["First Name", "Middle Name", "Last Name", "Title", "E-mail Address", "E-mail 2 Address", "Company",
         "Language"],
        {"full_name": ["First Name", "Middle Name", "Last Name"], "email": ["E-mail Address"],
         "company": ["Company"], "locale": ["Language"]}),
    "Pipedrive": (
        ["Person - Name", "Person - Organization", "Person - Email - Work", "Person - Phone - Work",
         "Person - Label", "Person - LinkedIn profile"],
        {"full_name": ["Person - Name"], "email": ["Person - Email - Work"], "company": ["Person - Organization"],
         "linkedin_profile": ["Person - LinkedIn profile"]}),
}


@pytest.mark.parametrize("export", EXPORTS)
def test_real_export_headers_are_mapped(export):
    headers, expected = EXPORTS[export]
    assert suggest_mapping(headers) == expected


@pytest.mark.parametrize("header", ["Company Linkedin Url", "Email Status", "E-mail 1 - Label", "Account Type"])
def test_columns_about_something_else_are_not_fuzzily_taken(header):
    assert suggest_mapping([header]) == {}


def test_a_remembered_mapping_wins_when_it_fits_the_headers():
    headers = ["Nom", "Courriel", "Profil"]
    remembered = {"full_name": ["Nom"], "email": ["Courriel"], "linkedin_profile": ["Profil"]}
    assert suggest_mapping(headers, remembered=remembered) == remembered
    assert suggest_mapping(["Nom"], remembered=remembered) == {}
