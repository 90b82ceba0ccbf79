"""What a grade becomes for people and platforms: feedback text, terminal
tables, Markdown, JSON and each course platform's results format; every
text a submission wrote is shown as text (untrusted)."""
