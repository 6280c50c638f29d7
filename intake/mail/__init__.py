"""Mailbox intake: poll an IMAP folder (163.com ready) and feed each mail into the pipeline."""
