"""A whole class at once: finding each student's files in a platform's
download (unpack, with the platforms' layouts and safe archive extraction
beside it), grading them all (batch), the gradebook and its exports
(gradebook) and the class report (class_report)."""
