"""Whether a lab is fit to publish: its bug corpus fails exactly what each
bug should (corpus), and every check of a lab in one table (selfcheck)."""
