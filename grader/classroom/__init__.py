"""A whole class at once: finding each student's files in a platform's
download (unpack, with the platforms' layouts and safe archive extraction
beside it), grading them all (batch), the gradebook and its exports
(gradebook), the class report (class_report), and a class cut into slices
for several machines and joined again (shard)."""
