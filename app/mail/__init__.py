"""E-mail to registrants: messages built in French (`messages`), sent by SMTP or as .eml (`transport`)."""
