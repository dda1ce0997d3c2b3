"""The demo agency app: "Apply for a residents' parking permit", the reference
integration of GaaP (sign-in, payment, notices) through the client library."""
