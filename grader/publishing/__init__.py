"""What an instructor publishes: the write-ups (handout), the students'
starter packs (starter_pack: which files they carry, pack_files; their
lab.toml without the hidden tests, public_toml; the proof that nothing
secret ships, pack_audit), the platforms' autograder bundles (export),
with PrairieLearn's grader that runs inside its image (prairielearn) and
the submission policy a bundle applies on Gradescope (policy), and new
labs (new_lab)."""
